"""Domain signals of moderation, sent after commit. Leaderboards listen; scoring never imports
leaderboards.

``dispute_decided(dispute_id, member_id, status)``: a moderator accepted or rejected a member's
dispute (``status`` is the new ``Dispute.Status``); the badges listen.
"""

from django.dispatch import Signal

dispute_decided = Signal()

