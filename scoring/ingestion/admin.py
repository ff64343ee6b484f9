
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from scoring.ingestion.models import Event, Partner, PartnerConsent, PartnerKey
from scoring.ledger import services

# Moderation (DESIGN.md §10): the member page, queues, audit log; replaces the Event, User and
# Friendship admins with subclasses that add the audited moderator actions.


class PartnerKeyInline(admin.TabularInline):
    model = PartnerKey
    fields = ("key_id", "created_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # keys are issued by `manage.py partner_create` / rotation, secret shown once


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PartnerKeyInline]


@admin.register(PartnerConsent)
class PartnerConsentAdmin(admin.ModelAdmin):
    list_display = ["member", "partner", "created_at", "revoked_at"]
    list_filter = ["partner"]
    search_fields = ["member__username"]
    raw_id_fields = ["member"]


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

