"""Two factors for the admin (django-allauth MFA: TOTP and recovery codes).

Whoever can enter the admin (``is_moderator``: staff, superusers, the Moderators group) must have
an authenticator, and their session must have passed it (allauth records each authentication
method of a session). ``admin_gate`` says where such a request goes instead of the admin page:

* no authenticator yet → enrol (``mfa_activate_totp``; allauth then shows the recovery codes).
  Activating TOTP proves the code, so it counts as this session's second factor
  (``enrolment_counts``);
* an authenticator, but a session that logged in with the password alone (e.g. it logged in
  before enrolling) → confirm a code (``mfa_reauthenticate``).

Admin sessions last ``MODERATOR_SESSION_SECONDS`` (members' sessions last two weeks), and a
second factor counts for as long: after that the admin asks for a code again.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records

# allauth's own record of a session's authentication methods (what its MFA login writes): it has
# no public writer.
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from accounts.members.moderators import is_moderator

ENROL_MESSAGE = ("Two-factor authentication is required to enter the admin: scan the code with an "
                 "authenticator app and enter the code it shows. Keep the recovery codes that follow.")
CONFIRM_MESSAGE = "Enter the code from your authenticator app to enter the admin."


def has_authenticator(user: Any) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def session_passed_second_factor(request: HttpRequest) -> bool:
    """Whether this session passed a second factor within the last ``MODERATOR_SESSION_SECONDS``
    (older, the admin asks for a code again: a kept session does not keep the admin open)."""
    since = time.time() - settings.MODERATOR_SESSION_SECONDS
    return any(record.get("method") == "mfa" and float(record.get("at", 0)) >= since
               for record in get_authentication_records(request, request.user))


def shorten_session(request: HttpRequest, user: Any) -> None:
    """An admin account's session ends ``MODERATOR_SESSION_SECONDS`` after its last use."""
    if is_moderator(user) and request.session.get_expiry_age() > settings.MODERATOR_SESSION_SECONDS:
        request.session.set_expiry(settings.MODERATOR_SESSION_SECONDS)


def admin_gate(request: HttpRequest) -> HttpResponseRedirect | None:
    """None if this moderator's request may go on to the admin, else where it goes instead."""
    user = request.user
    if not is_moderator(user):
        return None
    shorten_session(request, user)
    if not settings.ADMIN_MFA_REQUIRED:
        return None
    query = urlencode({"next": request.get_full_path()})
    if not has_authenticator(user):
        messages.info(request, ENROL_MESSAGE)
        return HttpResponseRedirect(f"{reverse('mfa_activate_totp')}?{query}")
    if not session_passed_second_factor(request):
        messages.info(request, CONFIRM_MESSAGE)
        return HttpResponseRedirect(f"{reverse('mfa_reauthenticate')}?{query}")
    return None


def enrolment_counts(request: HttpRequest | None, user: Any, authenticator: Authenticator) -> None:
    """A TOTP activated in this session passed its code: record it as the session's second factor."""
    if request is not None and authenticator.type == Authenticator.Type.TOTP and request.user == user:
        record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
