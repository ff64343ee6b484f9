"""Seasons in the admin, read-only (``ReadOnlyAdmin`` serves gamification's derived rows too)."""

from django.contrib import admin

from leaderboards.boards.models import Season, SeasonEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived or member-made rows: moderators look, nobody edits here (the services and the
    rebuild commands are the only writers)."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Season)
class SeasonAdmin(ReadOnlyAdmin):
    list_display = ["starts_at", "ends_at", "closed", "closed_at"]
    list_filter = ["closed"]
    readonly_fields = ["starts_at", "ends_at", "closed", "closed_at"]


@admin.register(SeasonEntry)
class SeasonEntryAdmin(ReadOnlyAdmin):
    list_display = ["season", "member", "start_score", "points", "reached_at", "final_rank"]
    list_filter = ["season"]
    search_fields = ["member__username"]
    list_select_related = ["season", "member"]
    readonly_fields = ["season", "member", "start_score", "points", "reached_at", "final_rank"]

