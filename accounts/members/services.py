"""Writes about members: registration, profile updates."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.core.context import request_context
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse

from accounts.members.models import User
from accounts.members.signals import profile_changed
from config.kernel.after_commit import call_on_commit, send_on_commit
from config.kernel.errors import DomainError

PROFILE_FIELDS = ("first_name", "last_name", "phone", "city", "bio", "timezone")
PRIVACY_FIELDS = ("profile_visibility", "on_global_board", "private_mode")


class UsernameTaken(DomainError):
    code = "username_taken"
    # Worded like a validation error on the field, which is what the client sent wrong.
    detail = "username: That username is taken."


@transaction.atomic
def user_register(*, request: HttpRequest | None, username: str, email: str, password: str) -> User:
    """Create a member from the API; ``UsernameTaken`` (400) if the username is in use.

    The email is never checked against other accounts here, so the response cannot tell
    whether the address is known (no enumeration). It stays unverified until its owner
    confirms it; an address already verified by another member can never be verified twice
    (allauth's unique-verified-email constraint).
    """
    validate_password(password, user=User(username=username, email=email))
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:
        raise UsernameTaken() from exc
    address = EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    already_owned = EmailAddress.objects.filter(email__iexact=email, verified=True).exists()
    call_on_commit(_send_registration_email, request, address, already_owned)
    return user


def _send_registration_email(
    request: HttpRequest | None, address: EmailAddress, already_owned: bool
) -> None:
    """A verification link, or — when someone already owns the address — a note to them.

    Either way the caller of the API sees the same answer.
    """
    # allauth reads the request from its own context, which may be gone after commit.
    with request_context(request):  # type: ignore[arg-type]
        if not already_owned:
            address.send_confirmation(request, signup=True)
            return
        reset_url = request.build_absolute_uri(reverse("account_reset_password")) if request else ""
        get_adapter(request).send_mail(
            "account/email/account_already_exists",
            address.email,
            {"email": address.email, "password_reset_url": reset_url},
        )


@transaction.atomic
def user_update_profile(*, user: User, data: dict[str, Any]) -> User:
    """Update profile and privacy fields; tell listeners which ones changed, after commit."""
    changed = []
    for field, value in data.items():
        if field not in PROFILE_FIELDS + PRIVACY_FIELDS + ("avatar",):
            raise ValueError(f"{field} is not editable")
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
        send_on_commit(profile_changed, sender=User, user_id=user.pk, fields=changed)
    return user
