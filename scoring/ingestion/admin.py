"""Ingestion's admin: partners with their signing keys (read-only: keys are issued by
``manage.py partner_create``), and members' consents. Events are in the ledger's admin."""

from django.contrib import admin
from django.http import HttpRequest

from scoring.ingestion.models import Partner, PartnerConsent, PartnerKey


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
