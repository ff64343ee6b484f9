"""Ingestion's admin: partners with their signing keys and the keys' audit, and members' consents.
Events are in the ledger's admin.

Operators issue and revoke keys here as with ``manage.py partner_key``: "Issue a new key" on
partners (rotation: the oldest of two live keys is revoked; the new secret is shown once, in the
page's message), "Revoke" on keys (refused at once: 401 ``key_revoked``). Every change is written
to the key audit under ``admin:<username>``.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from scoring.ingestion.models import Partner, PartnerConsent, PartnerKey, PartnerKeyAudit
from scoring.ingestion.partners import partner_key_issue, partner_key_revoke


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class PartnerKeyInline(admin.TabularInline):
    model = PartnerKey
    fields = ("key_id", "created_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # keys are issued by the "Issue a new key" action or `manage.py partner_key`


class PartnerKeyAuditInline(admin.TabularInline):
    model = PartnerKeyAudit
    fields = ("created_at", "action", "key_id", "actor_name", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "key audit"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PartnerKeyInline, PartnerKeyAuditInline]
    actions = ["issue_key"]

    @admin.action(description="Issue a new key (rotation: the oldest of two live keys is revoked)",
                  permissions=["change"])
    def issue_key(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            issued = partner_key_issue(partner=partner, actor_name=_actor(request), reason="issued in the admin")
            self.message_user(
                request, f"{partner.name}: new key {issued.key_id}, secret {issued.secret} "
                         "(shown once: hand it to the partner now).", messages.WARNING)


@admin.register(PartnerKey)
class PartnerKeyAdmin(admin.ModelAdmin):
    list_display = ["key_id", "partner", "created_at", "revoked_at", "last_used_at"]
    list_filter = ["partner", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["key_id", "partner__slug"]
    fields = ("key_id", "partner", "created_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # a revoked key stays, for the audit

    @admin.action(description="Revoke the selected keys now (requests signed with them get 401 key_revoked)",
                  permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[PartnerKey]) -> None:
        revoked = [key.key_id for key in queryset if partner_key_revoke(
            key=key, actor_name=_actor(request), reason="revoked in the admin")]
        self.message_user(request, f"Revoked {len(revoked)} key(s): {', '.join(revoked) or 'none was live'}.")


@admin.register(PartnerConsent)
class PartnerConsentAdmin(admin.ModelAdmin):
    list_display = ["member", "partner", "created_at", "revoked_at"]
    list_filter = ["partner"]
    search_fields = ["member__username"]
    raw_id_fields = ["member"]
