"""Invitations: single-use links that make their user and the inviter friends.

Concurrency (STYLE.md §6): like every write to the friend graph, these first lock the members'
rows in id order (``config.kernel.locks``). Beneath the locks, an invitation is consumed by a
conditional ``UPDATE ... WHERE used_at IS NULL`` whose row count decides who got it, and the
friendship itself is made by ``social.graph.services.friendship_start``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.members.models import User
from config.kernel import locks
from config.kernel.after_commit import call_on_commit
from social.graph import selectors
from social.graph.errors import AlreadyFriends, CannotFriendSelf, YouBlocked
from social.graph.models import Friendship
from social.graph.services import friendship_start
from social.invitations import selectors as invitations_selectors
from social.invitations.errors import InvitationGone, RateLimited
from social.invitations.limits import (
    INVITATION_EMAIL_WINDOW,
    INVITATION_TTL,
    MAX_INVITATION_EMAILS_PER_DAY,
    MAX_OPEN_INVITATIONS,
)
from social.invitations.models import Invitation
from social.invitations.tokens import invitation_token_hash, invitation_token_new


@dataclass(frozen=True)
class InvitationCreated:
    invitation: Invitation
    token: str  # shown once, to the inviter; only its hash is stored
    url: str


@transaction.atomic
def invitation_create(*, inviter: User, email: str = "", url_for: Callable[[str], str]) -> InvitationCreated:
    """A new single-use invitation link, optionally emailed (after commit) to ``email``.

    ``url_for(token)`` builds the absolute link. Caps (``social.invitations.limits``): open invitations per
    member, and emails per rolling day. The answer never depends on whether ``email`` belongs
    to a member (no enumeration): the same email goes out either way.
    """
    locks.member_ids_lock([inviter.pk])  # the caps are check-then-act: serialise one member's invites
    now = timezone.now()
    if invitations_selectors.open_invitation_count(member_id=inviter.pk, now=now) >= MAX_OPEN_INVITATIONS:
        raise RateLimited(
            f"You already have {MAX_OPEN_INVITATIONS} open invitations: "
            "wait until some are used or expire."
        )
    if email:
        emailed = Invitation.objects.filter(
            inviter=inviter, emailed_at__gt=now - INVITATION_EMAIL_WINDOW
        ).count()
        if emailed >= MAX_INVITATION_EMAILS_PER_DAY:
            raise RateLimited(
                f"You can email {MAX_INVITATION_EMAILS_PER_DAY} invitations a day: "
                "share the link instead, or try again tomorrow."
            )
    token = invitation_token_new()
    invitation = Invitation.objects.create(
        inviter=inviter,
        token_hash=invitation_token_hash(token),
        email=email,
        emailed_at=now if email else None,
        created_at=now,
        expires_at=now + INVITATION_TTL,
    )
    url = url_for(token)
    if email:
        context = {"inviter": inviter.username, "url": url, "expires_at": invitation.expires_at}
        call_on_commit(_invitation_email_send, email=email, context=context)
    return InvitationCreated(invitation=invitation, token=token, url=url)


def _invitation_email_send(*, email: str, context: dict) -> None:
    subject = render_to_string("social/email/invitation_subject.txt", context).strip()
    body = render_to_string("social/email/invitation_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Friendship:
    """Use an invitation: ``user`` and the inviter become friends.

    Unknown token: ``NotFound``. Expired, used by someone else, or from an inviter who blocked
    ``user`` (indistinguishable on purpose): ``InvitationGone``. Accepting again by the member
    who used it returns the same friendship.
    """
    found = invitations_selectors.invitation_by_token(token=token)
    if found.inviter_id == user.pk:
        raise CannotFriendSelf()
    locks.member_ids_lock([found.inviter_id, user.pk])
    invitation = Invitation.objects.select_related("inviter").get(pk=found.pk)
    inviter = invitation.inviter
    friendship = selectors.active_friendship_between(first_id=inviter.pk, second_id=user.pk)
    if invitation.used_by_id == user.pk:
        if friendship is None:
            raise InvitationGone()
        return friendship
    if not inviter.is_active or selectors.has_blocked(blocker_id=inviter.pk, blocked_id=user.pk):
        raise InvitationGone()
    if selectors.has_blocked(blocker_id=user.pk, blocked_id=inviter.pk):
        raise YouBlocked()
    if friendship is not None:
        raise AlreadyFriends()
    now = timezone.now()
    claimed = Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now, used_by=user
    )
    if claimed != 1:
        raise InvitationGone()
    return friendship_start(asker_id=inviter.pk, by=user, via=Friendship.Via.INVITATION, now=now)

