"""Accounts' sections of the member's data (``accounts.privacy.registry``): the profile, the
privacy settings, the account's state, the notifications and the kinds muted; and what deletion does to them."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from knox.models import AuthToken

from accounts.members.models import User
from accounts.notifications.models import Notification, NotificationMute
from accounts.privacy import registry
from accounts.privacy.models import DataExport
from accounts.privacy.registry import Deletion, Section
from accounts.privacy.storage import member_files_delete
from config.kernel.after_commit import call_on_commit


def profile_export(member: User) -> dict[str, Any]:
    return {
        "username": member.username, "email": member.email, "first_name": member.first_name,
        "last_name": member.last_name, "phone": member.phone, "city": member.city, "bio": member.bio,
        "avatar": member.avatar.name if member.avatar else "", "timezone": member.timezone,
        "date_joined": member.date_joined, "last_login": member.last_login,
        "email_addresses": [
            {"email": a.email, "verified": a.verified, "primary": a.primary}
            for a in EmailAddress.objects.filter(user=member)
        ],
    }


def account_delete(member: User, deletion: Deletion) -> None:
    """Nobody can sign in again, and nothing personal stays on the row: the username becomes
    ``deleted-<id>``, the profile is blanked, login tokens, email addresses, data exports and the
    login-failure records of the former username and second-factor authenticators go. Files are deleted after commit."""
    AuthToken.objects.filter(user=member).delete()
    Authenticator.objects.filter(user=member).delete()
    EmailAddress.objects.filter(user=member).delete()
    export_files = list(DataExport.objects.filter(member=member).values_list("file_name", flat=True))
    DataExport.objects.filter(member=member).delete()
    avatar: str = (member.avatar.name or "") if member.avatar else ""
    member.username = f"deleted-{member.pk}"
    member.email = member.first_name = member.last_name = member.phone = member.city = member.bio = ""
    member.avatar = ""  # type: ignore[assignment]
    member.timezone = "UTC"
    member.is_active = False
    member.on_global_board = False
    member.profile_visibility = User.Visibility.FRIENDS
    member.set_unusable_password()
    member.save()
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        model.objects.filter(username=deletion.former_username).delete()
    call_on_commit(member_files_delete, avatar, export_files)


def privacy_export(member: User) -> dict[str, Any]:
    return {"profile_visibility": member.profile_visibility, "on_global_board": member.on_global_board,
            "private_mode": member.private_mode}


def account_export(member: User) -> dict[str, Any]:
    return {"is_frozen": member.is_frozen, "frozen_at": member.frozen_at,
            "frozen_until": member.frozen_until, "frozen_reason": member.frozen_reason}


def notifications_export(member: User) -> list[dict[str, Any]]:
    return [{"at": n.created_at, "kind": n.kind, "text": n.text, "link": n.link, "read_at": n.read_at}
            for n in Notification.objects.filter(member=member).order_by("created_at", "id")]


def notification_mutes_export(member: User) -> list[str]:
    """The kinds of notification the member muted."""
    return sorted(NotificationMute.objects.filter(member=member).values_list("kind", flat=True))


def notifications_delete(member: User, deletion: Deletion) -> None:
    Notification.objects.filter(member=member).delete()
    NotificationMute.objects.filter(member=member).delete()


def register_sections() -> None:
    registry.register(
        Section("profile", (User, EmailAddress), profile_export, account_delete),
        Section("privacy", (User,), privacy_export),
        Section("account", (User,), account_export),
        Section("notifications", (Notification,), notifications_export, notifications_delete),
        Section("notification_mutes", (NotificationMute,), notification_mutes_export),
    )
    registry.leave_out(AuthToken, why="login tokens: only a digest of each is stored, useless to anyone; "
                                      "deletion removes them")
    registry.leave_out(Authenticator, why="second factors (TOTP secrets, recovery codes): credentials, "
                                          "never exported; deletion removes them")
    registry.leave_out(DataExport, why="the exports themselves: the data-rights page lists them; deletion "
                                       "removes them and their files")
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        registry.leave_out(model, why="login attempts (django-axes), kept by username and address for "
                                      "security; deletion removes those of the member's username")
    registry.leave_out(LogEntry, why="the admin's log of what staff and moderators changed, under the "
                                     "one who acted: moderators' identities stay out of the export")
