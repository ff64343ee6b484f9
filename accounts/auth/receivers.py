"""Auth's receivers: a TOTP enrolment passes the session's second factor; admin accounts'
sessions are shortened at login (``second_factor``)."""

from __future__ import annotations

from typing import Any

from allauth.mfa.signals import authenticator_added
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from accounts.auth.second_factor import enrolment_counts, shorten_session


@receiver(authenticator_added, dispatch_uid="accounts.auth.enrolment_counts")
def _enrolment_counts(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    enrolment_counts(request, user, authenticator)


@receiver(user_logged_in, dispatch_uid="accounts.auth.shorten_session")
def _shorten_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        shorten_session(request, user)
