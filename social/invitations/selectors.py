"""Reads of invitations. An unknown token raises ``NotFound``, like any unknown URL."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from accounts.members.models import User
from config.kernel.errors import NotFound
from social.invitations.models import Invitation
from social.invitations.tokens import invitation_token_hash


def invitations_of(*, member: User) -> QuerySet[Invitation]:
    return Invitation.objects.filter(inviter=member).select_related("used_by")


def invitation_by_token(*, token: str) -> Invitation:
    """The invitation behind a token (whatever its state), or ``NotFound``."""
    try:
        return Invitation.objects.select_related("inviter").get(token_hash=invitation_token_hash(token))
    except Invitation.DoesNotExist:
        raise NotFound() from None


def open_invitation_count(*, member_id: int, now: datetime) -> int:
    return Invitation.objects.filter(inviter_id=member_id, used_at__isnull=True, expires_at__gt=now).count()

