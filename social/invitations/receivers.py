"""Completing an invitation after the visitor signs up or logs in.

The invitation page keeps the token in the session of a signed-out visitor. Django's
``user_logged_in`` fires on every web log-in — including allauth's automatic log-in right after
the new member confirms their email (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION), which is when a
sign-up completes with mandatory verification — and the session survives log-in (its key is
cycled, its data kept). So that is where the friendship is made.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from config.kernel.errors import DomainError
from social.invitations import services

#: Where an invitation token waits while its visitor signs up or logs in.
INVITATION_SESSION_KEY = "social:invitation_token"


@receiver(user_logged_in, dispatch_uid="social.accept_pending_invitation")
def accept_pending_invitation(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if request is None or session is None:
        return
    token = session.pop(INVITATION_SESSION_KEY, None)
    if not token:
        return
    try:
        friendship = services.invitation_accept(token=token, user=user)
    except DomainError as exc:
        messages.error(request, f"Invitation: {exc.detail}", fail_silently=True)
        return
    other = friendship.member_a if friendship.member_b_id == user.pk else friendship.member_b
    messages.success(request, f"You and {other.username} are now friends.", fail_silently=True)
