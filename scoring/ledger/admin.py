"""The ledger's admin: events and their scoring (failed ones can be retried), score states and
the ledger itself — all read-only (events come from partners, the ledger is append-only).

``scoring.moderation.admin`` replaces the event admin with a subclass that adds the audited
moderator actions.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from scoring.ingestion.models import Event
from scoring.ledger import services
from scoring.ledger.models import ScoreChange, ScoreState


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "member", "partner", "kind", "amount", "currency", "occurred_at", "status", "attempts"]
    list_filter = ["status", "kind", "partner"]
    search_fields = ["member__username", "external_id"]
    raw_id_fields = ["member"]
    readonly_fields = [f.name for f in Event._meta.fields]
    actions = ["retry_failed"]
    date_hierarchy = "occurred_at"

    @admin.action(description="Retry scoring of the selected failed events", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        count = services.events_retry(event_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} failed event(s) queued for scoring again.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from partners, through the signed API

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # never lost: reversals are recorded, rows are not deleted


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
