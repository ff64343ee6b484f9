from django.contrib import admin

from leaderboards.models import Season, SeasonEntry


@admin.register(Season)
class SeasonAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "ends_at", "closed", "closed_at"]
    list_filter = ["closed"]
    readonly_fields = ["starts_at", "ends_at", "closed", "closed_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SeasonEntry)
class SeasonEntryAdmin(admin.ModelAdmin):
    list_display = ["season", "member", "start_score", "points", "reached_at", "final_rank"]
    list_filter = ["season"]
    search_fields = ["member__username"]
    list_select_related = ["season", "member"]
    readonly_fields = ["season", "member", "start_score", "points", "reached_at", "final_rank"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
