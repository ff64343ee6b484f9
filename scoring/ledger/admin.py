
from django.contrib import admin
from django.http import HttpRequest

from scoring.ledger.models import ScoreChange, ScoreState

# Moderation (DESIGN.md §10): the member page, queues, audit log; replaces the Event, User and
# Friendship admins with subclasses that add the audited moderator actions.


@admin.register(ScoreChange)
class ScoreChangeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "member", "cause", "old_score", "new_score", "explanation"]
    list_filter = ["cause"]
    search_fields = ["member__username"]
    raw_id_fields = ["member", "event"]
    readonly_fields = [f.name for f in ScoreChange._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(ScoreState)
class ScoreStateAdmin(admin.ModelAdmin):
    list_display = ["member", "score", "base", "social", "updated_at"]
    search_fields = ["member__username"]
    readonly_fields = ["member", "score", "base", "social", "factors", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


