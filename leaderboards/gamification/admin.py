"""Gamification in the admin: badges, challenges and perk grants to look at (read-only), and the
perk catalogue, which staff edit (each change re-syncs the members it may affect)."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Q

from leaderboards.boards.admin import ReadOnlyAdmin
from leaderboards.gamification import perks
from leaderboards.gamification.models import BadgeAward, Challenge, ChallengeParticipant, Perk, PerkGrant
from scoring.model import PARAMS


@admin.register(BadgeAward)
class BadgeAwardAdmin(ReadOnlyAdmin):
    list_display = ["member", "badge", "tier", "key", "awarded_at", "explanation"]
    list_filter = ["badge", "tier"]
    search_fields = ["member__username", "badge", "key"]
    list_select_related = ["member"]
    date_hierarchy = "awarded_at"
    readonly_fields = ["member", "badge", "tier", "key", "awarded_at", "explanation"]


class ChallengeParticipantInline(admin.TabularInline):
    model = ChallengeParticipant
    extra = 0
    can_delete = False
    fields = ["member", "answer", "answered_at", "start_score", "points", "final_rank", "is_winner"]
    readonly_fields = ["member", "answer", "answered_at", "start_score", "points", "final_rank", "is_winner"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Challenge)
class ChallengeAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_by", "status", "created_at", "starts_at", "ends_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["created_by__username", "participants__member__username"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_by", "created_at", "status", "starts_at", "ends_at", "finished_at"]
    inlines = [ChallengeParticipantInline]


class PerkAdminForm(forms.ModelForm):
    class Meta:
        model = Perk
        fields = ["name", "slug", "description", "provider", "min_score", "is_active"]

    def clean_min_score(self) -> int:
        value = self.cleaned_data["min_score"]
        if not PARAMS.score_min <= value <= PARAMS.score_max:
            raise forms.ValidationError(f"A score runs from {PARAMS.score_min} to {PARAMS.score_max}.")
        return value


@admin.register(Perk)
class PerkAdmin(admin.ModelAdmin):
    """Add, edit, deactivate (never delete: grants are history). Every save re-syncs the
    members it may affect, after commit (``perks.perk_changed``)."""

    form = PerkAdminForm
    list_display = ["name", "min_score", "provider", "is_active", "holders", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "provider"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["deactivate", "activate"]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).annotate(
            open_grants=Count("grants", filter=Q(grants__revoked_at__isnull=True)))

    @admin.display(description="Holders", ordering="open_grants")
    def holders(self, obj: Perk) -> int:
        return getattr(obj, "open_grants", 0)

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        if not change or {"min_score", "is_active"}.intersection(form.changed_data):
            perks.perk_changed(perk=obj)

    def _set_active(self, request, queryset, active: bool) -> int:  # type: ignore[no-untyped-def]
        changed = 0
        for perk in queryset.filter(is_active=not active):
            Perk.objects.filter(pk=perk.pk).update(is_active=active)
            perk.is_active = active
            perks.perk_changed(perk=perk)
            changed += 1
        return changed

    @admin.action(description="Deactivate selected perks (holders lose them, with a notification)")
    def deactivate(self, request, queryset):  # type: ignore[no-untyped-def]
        n = self._set_active(request, queryset, False)
        self.message_user(request, f"{n} perk(s) deactivated; their holders are being updated.")

    @admin.action(description="Activate selected perks (members at their score gain them)")
    def activate(self, request, queryset):  # type: ignore[no-untyped-def]
        n = self._set_active(request, queryset, True)
        self.message_user(request, f"{n} perk(s) activated; members at their score are being updated.")


@admin.register(PerkGrant)
class PerkGrantAdmin(ReadOnlyAdmin):
    list_display = ["perk", "member", "granted_at", "revoked_at", "revoke_reason"]
    list_filter = ["perk", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["member__username", "perk__name"]
    list_select_related = ["perk", "member"]
    readonly_fields = ["perk", "member", "granted_at", "revoked_at", "revoke_reason"]

