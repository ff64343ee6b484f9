"""The social app's models, one module per concern; Django registers them from here."""

from social.graph.models import Block, FriendRequest, Friendship
from social.invitations.models import Invitation

__all__ = ["Block", "FriendRequest", "Friendship", "Invitation"]
