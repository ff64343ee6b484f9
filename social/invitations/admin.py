"""Invitations in the moderators' admin: read-only, and never their token (only its hash is
stored, and even that stays hidden)."""

from __future__ import annotations

from django.contrib import admin

from social.graph.admin import ReadOnlyAdmin
from social.invitations.models import Invitation


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["id", "inviter", "email", "status", "created_at", "expires_at", "used_at", "used_by"]
    list_filter = ["created_at", "expires_at", "used_at"]
    search_fields = ["inviter__username", "email", "used_by__username"]
    list_select_related = ["inviter", "used_by"]
    exclude = ["token_hash"]
