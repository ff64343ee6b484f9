"""The friend graph in the moderators' admin: read-only lists, plus "cut friendships".

Rows are history: nothing here edits or deletes them. Cutting goes through
``services.friendship_cut`` (kept as history, ``friendship_ended`` sent after commit), from a
confirmation page that asks for the reason. Invitations have their own admin
(``social.invitations.admin``), on the same read-only base.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.members.access import member_of
from social.graph import services
from social.graph.models import Block, FriendRequest, Friendship


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        excluded = set(self.get_exclude(request, obj) or [])
        return [f.name for f in self.model._meta.fields if f.name not in excluded]


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("ended", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "active":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


class CutForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=1000,
        help_text="Why (kept on the friendship; never shown to the members).",
    )


@admin.register(Friendship)
class FriendshipAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "member_a", "member_b", "via", "accepted_at", "vests_at", "ended_at", "ended_reason",
    ]
    list_filter = [ActiveFilter, "via", "ended_reason", "accepted_at"]
    search_fields = ["member_a__username", "member_b__username"]
    list_select_related = ["member_a", "member_b"]
    date_hierarchy = "accepted_at"
    actions = ["cut"]

    @admin.display(description="Vests at")
    def vests_at(self, obj: Friendship) -> Any:
        return obj.vests_at

    def cut_one(self, friendship: Friendship, *, by: Any, reason: str) -> bool:
        """Cut one friendship; True if it was still live. (The moderation admin audits it.)"""
        return services.friendship_cut(friendship=friendship, by=by, reason=reason)

    @admin.action(description="Cut selected friendships…", permissions=["change"])
    def cut(self, request: HttpRequest, queryset: QuerySet[Friendship]) -> HttpResponse | None:
        live = queryset.filter(ended_at__isnull=True).select_related("member_a", "member_b")
        if "confirm" in request.POST:
            form = CutForm(request.POST)
            if form.is_valid():
                moderator = member_of(request)
                cut = sum(self.cut_one(f, by=moderator, reason=form.cleaned_data["reason"]) for f in live)
                self.message_user(request, f"Cut {cut} friendship(s).", messages.SUCCESS)
                return None
        else:
            form = CutForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Cut friendships",
            "friendships": live,
            "form": form,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
            "now": timezone.now(),
        }
        return TemplateResponse(request, "social/admin_cut_confirmation.html", context)


@admin.register(FriendRequest)
class FriendRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "from_user", "to_user", "status", "muted", "created_at", "responded_at"]
    list_filter = ["status", "muted", "created_at"]
    search_fields = ["from_user__username", "to_user__username"]
    list_select_related = ["from_user", "to_user"]


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = ["id", "blocker", "blocked", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]
