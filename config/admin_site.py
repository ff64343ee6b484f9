"""Credo's admin site: moderators (the ``Moderators`` group) may use it without being staff."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest

from accounts.members.moderators import is_moderator


class ModeratorAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, also open to moderators."""

    def confirm_login_allowed(self, user: Any) -> None:
        if is_moderator(user):
            return
        super().confirm_login_allowed(user)


class CredoAdminSite(admin.AdminSite):
    site_header = "Credo moderation"
    site_title = "Credo admin"
    index_title = "Moderation"
    login_form = ModeratorAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        """Entering the admin grants nothing by itself: a moderator still sees and does only
        what the group's model permissions allow."""
        return is_moderator(request.user)
