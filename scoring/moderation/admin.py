"""The moderators' admin (DESIGN.md §10): members, dispute and flag queues, event reversal and
correction, freezing, cutting friendships, the audit log with undo, CSV export and the
suspicious-patterns report.

Every action goes through ``scoring.moderation.services`` (audited) from an intermediate page
that asks for confirmation and a reason. Moderators hold only the permissions listed in
``accounts.members.moderators.MODERATOR_PERMISSIONS``; the audit log cannot be changed or deleted
by anyone, superusers included. ``register`` installs these admins on a site, replacing the
member, event and friendship admins the other apps and the ledger registered; ``scoring.admin``
calls it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import display_for_field, display_for_value, lookup_field
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join, strip_tags
from django.utils.safestring import SafeString, mark_safe

from accounts.members.access import member_of
from accounts.members.admin import UserAdmin
from accounts.members.models import User
from config.kernel.errors import DomainError
from scoring.explain.overview import FACTOR_LABELS
from scoring.ingestion.models import Event
from scoring.ledger import selectors
from scoring.ledger.admin import EventAdmin
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.model import PARAMS
from scoring.moderation import disputes, services
from scoring.moderation import reports as moderation_reports
from scoring.moderation.models import REASON_MAX_LENGTH, AuditEntry, Dispute, DisputeStep, Flag
from social.graph.admin import FriendshipAdmin
from social.graph.models import Friendship

# --- CSV export ----------------------------------------------------------------------------------

#: A cell starting with one of these is read as a formula by spreadsheets (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: The audit entry of an export lists the ids of this many exported rows at most.
AUDITED_IDS = 1000


def csv_safe(value: Any) -> Any:
    """Text cells that a spreadsheet would run as a formula get a leading single quote.

    Numbers stay numbers (``-12`` is a value, not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(name: str, obj: Any, modeladmin: admin.ModelAdmin) -> Any:
    try:
        field, attr, value = lookup_field(name, obj, modeladmin)
    except (AttributeError, ObjectDoesNotExist):
        return ""
    if field is not None and not getattr(field, "is_relation", False):
        shown: Any = display_for_field(value, field, "")
    else:
        shown = display_for_value(value, "", boolean=getattr(attr, "boolean", False))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return strip_tags(str(shown))


class CsvExportMixin:
    """``Export selected as CSV`` for moderators with ``scoring.export_csv`` (audited)."""

    def has_export_csv_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scoring.export_csv")

    @admin.action(description="Export selected as CSV", permissions=["export_csv"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        modeladmin: Any = self
        columns = [c for c in modeladmin.get_list_display(request) if c != "action_checkbox"]
        opts = queryset.model._meta
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{opts.model_name}-{timezone.now():%Y%m%d-%H%M}.csv"'
        writer = csv.writer(response)
        writer.writerow([csv_safe(str(c)) for c in columns])
        ids = []
        for obj in queryset:
            ids.append(obj.pk)
            writer.writerow([csv_safe(_cell(c, obj, modeladmin)) for c in columns])
        services.audit_record(
            actor=member_of(request), action=AuditEntry.Action.CSV_EXPORT, target_type=opts.model_name,
            target_id=None, reason=f"CSV export of {len(ids)} {opts.verbose_name_plural}",
            after={"count": len(ids), "ids": ids[:AUDITED_IDS]},
        )
        return response


# --- confirmation pages --------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=REASON_MAX_LENGTH)


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=REASON_MAX_LENGTH, required=False,
                           help_text="Optional words to the member.")


class FreezeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=REASON_MAX_LENGTH,
                             help_text="The member sees this.")
    until = forms.DateTimeField(required=False, help_text="Optional end (UTC, YYYY-MM-DD HH:MM): "
                                                          "the account unfreezes by itself then.")

    def clean_until(self) -> datetime | None:
        until = self.cleaned_data["until"]
        if until is not None and until <= timezone.now():
            raise forms.ValidationError("The end must be in the future.")
        return until


class CorrectForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    amount_paid = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    due_date = forms.DateField(required=False)
    paid_date = forms.DateField(required=False)
    missed = forms.BooleanField(required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=REASON_MAX_LENGTH)


def confirm_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, *, action: str, title: str, description: str,
    items: Iterable[Any], form: forms.Form, submit: str,
) -> TemplateResponse:
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "description": description,
        "items": list(items),
        "form": form,
        "action": action,
        "submit": submit,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "moderation/admin_confirm.html", context)


def run_each(
    modeladmin: admin.ModelAdmin, request: HttpRequest, items: Iterable[Any], fn: Callable[[Any], Any], done: str
) -> None:
    """Apply ``fn`` to each item (each its own transaction); report successes and refusals."""
    ok, refused = 0, []
    for item in items:
        try:
            fn(item)
            ok += 1
        except DomainError as exc:
            refused.append(f"{item}: {exc.detail}")
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


def confirm_form(form_class: type[forms.Form], request: HttpRequest, **kwargs: Any) -> forms.Form:
    """The action's form: bound once the moderator confirmed, empty on the first step."""
    return form_class(request.POST if "confirm" in request.POST else None, **kwargs)


def confirm_then_run(
    modeladmin: admin.ModelAdmin, request: HttpRequest, targets: list[Any], *, form: forms.Form,
    run: Callable[[Any, User, dict[str, Any]], Any], done: str, **page: Any,
) -> TemplateResponse | None:
    """Every bulk moderator action in two steps: a confirmation page (``confirm_page``) that asks
    why, then ``run(target, moderator, form.cleaned_data)`` for each target (``run_each``)."""
    if "confirm" in request.POST and form.is_valid():
        me, data = member_of(request), form.cleaned_data
        run_each(modeladmin, request, targets, lambda target: run(target, me, data), done)
        return None
    return confirm_page(modeladmin, request, form=form, **page)


def _table(headers: list[str], rows: Iterable[Iterable[Any]]) -> SafeString:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html('<table class="moderation-panel"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
                       head, body or mark_safe('<tr><td colspan="9">None.</td></tr>'))


def _link(obj: Any, text: Any) -> SafeString:
    opts = obj._meta
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                                                       args=[obj.pk]), text)


def _age(since: datetime | None) -> str:
    if since is None:
        return "—"
    seconds = int((timezone.now() - since).total_seconds())
    days, rest = divmod(seconds, 86400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


# --- members -------------------------------------------------------------------------------------


class BandFilter(admin.SimpleListFilter):
    title = "band"
    parameter_name = "band"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = [PARAMS.lowest_band, *[name for _, name in PARAMS.bands]]
        return [(n, n) for n in dict.fromkeys(names)] + [("none", "Not scored yet")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "none":
            return queryset.filter(score__isnull=True)
        if self.value():
            return queryset.filter(score_band=self.value())
        return queryset


class MemberStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("frozen", "Frozen"), ("inactive", "Inactive / deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "active":
            return queryset.filter(is_active=True, is_frozen=False)
        if self.value() == "frozen":
            return queryset.filter(is_frozen=True)
        if self.value() == "inactive":
            return queryset.filter(is_active=False)
        return queryset


MEMBER_PANELS = ("moderation_status", "score_panel", "ledger_panel", "events_panel", "friends_panel",
                 "disputes_panel", "flags_panel", "history_panel")


class MemberAdmin(CsvExportMixin, UserAdmin):
    """The member page: score, factor breakdown, ledger, events, friends, disputes, flags and
    moderation history (read-only panels), and the freeze / unfreeze actions."""

    list_display = ["username", "email", "score", "score_band", "status", "date_joined"]
    list_filter = [BandFilter, MemberStatusFilter, "date_joined", "on_global_board", "private_mode"]
    search_fields = ["username", "email"]
    actions = ["freeze_members", "unfreeze_members", "export_csv"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):  # type: ignore[no-untyped-def]
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return (("Moderation", {"fields": MEMBER_PANELS}), *fieldsets)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = (*super().get_readonly_fields(request, obj), *MEMBER_PANELS)
        if not request.user.is_superuser:
            # Deactivating is not moderation: freezing is (audited, reversible).
            fields = (*fields, "is_active", "last_login", "date_joined")
        return fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = {name: form.initial.get(name) for name in form.changed_data}
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            after = {name: form.cleaned_data.get(name) for name in form.changed_data}
            services.member_edit_record(
                member=obj, by=member_of(request),
                before={k: str(v) if k == "avatar" else v for k, v in before.items()},
                after={k: str(v) if k == "avatar" else v for k, v in after.items()},
            )

    @admin.display(description="Status")
    def status(self, obj: User) -> str:
        if not obj.is_active:
            return "inactive"
        return "frozen" if obj.is_frozen else "active"

    @admin.display(description="Account")
    def moderation_status(self, obj: User) -> SafeString:
        if not obj.is_active:
            return mark_safe("<strong>Inactive</strong> (deleted or deactivated)")
        if obj.is_frozen:
            until = f"until {obj.frozen_until:%Y-%m-%d %H:%M} UTC" if obj.frozen_until else "until unfrozen"
            return format_html("<strong>Frozen</strong> since {} {} — {}", f"{obj.frozen_at:%Y-%m-%d %H:%M}",
                               until, obj.frozen_reason)
        return mark_safe("Active")

    @admin.display(description="Score and factor breakdown")
    def score_panel(self, obj: User) -> SafeString:
        state = ScoreState.objects.filter(member=obj).first()
        if state is None:
            return mark_safe("Not scored yet.")
        result = selectors.result_from_state(state=state, member=obj)
        rows = [(FACTOR_LABELS.get(f.name, f.name), f"{f.weight:.2f}", f"{f.value:.4f}", f"{f.points:.1f}")
                for f in result.factors]
        rows.append(("Starting points", "", "", str(PARAMS.score_min)))
        rows.append(("Friends (contagion)", "", "", f"{state.social:+.2f}"))
        return format_html("<p><strong>{}</strong> ({}) · base {} · social {}</p>{}", state.score,
                           obj.score_band, f"{state.base:.2f}", f"{state.social:+.2f}",
                           _table(["Factor", "Weight", "Value", "Points"], rows))

    @admin.display(description="Ledger (latest 30)")
    def ledger_panel(self, obj: User) -> SafeString:
        rows = [(f"{c.created_at:%Y-%m-%d %H:%M}", c.get_cause_display(), c.old_score if c.old_score is not None
                 else "—", c.new_score, c.explanation)
                for c in ScoreChange.objects.filter(member=obj)[:30]]
        url = reverse("admin:scoring_scorechange_changelist") + f"?member__id__exact={obj.pk}"
        return format_html('{}<p><a href="{}">Whole ledger</a></p>',
                           _table(["When", "Cause", "From", "To", "Why"], rows), url)

    @admin.display(description="Events (latest 30)")
    def events_panel(self, obj: User) -> SafeString:
        rows = [(_link(e, f"#{e.pk}"), f"{e.occurred_at:%Y-%m-%d}", e.get_kind_display(), e.partner.name,
                 f"{e.amount} {e.currency}", e.status)
                for e in Event.objects.filter(member=obj).select_related("partner").order_by("-occurred_at")[:30]]
        url = reverse("admin:scoring_event_changelist") + f"?member__id__exact={obj.pk}"
        return format_html('{}<p><a href="{}">All events (reverse, correct)</a></p>',
                           _table(["Event", "Date", "Kind", "Partner", "Amount", "Status"], rows), url)

    @admin.display(description="Friends")
    def friends_panel(self, obj: User) -> SafeString:
        rows = []
        for f in Friendship.objects.of_member(obj.pk).select_related("member_a", "member_b").order_by("-accepted_at"):
            other = f.member_b if f.member_a_id == obj.pk else f.member_a
            state = "active" if f.ended_at is None else f"ended {f.ended_at:%Y-%m-%d} ({f.ended_reason})"
            rows.append((_link(other, other.username), other.score if other.score is not None else "—",
                         f"{f.accepted_at:%Y-%m-%d}", _link(f, state)))
        return _table(["Friend", "Score", "Since", "Friendship"], rows)

    @admin.display(description="Disputes")
    def disputes_panel(self, obj: User) -> SafeString:
        rows = [(_link(d, f"#{d.pk}"), f"{d.created_at:%Y-%m-%d}", f"event #{d.event_id}", d.status, d.reason,
                 d.resolution) for d in Dispute.objects.filter(member=obj).order_by("-created_at")[:30]]
        return _table(["Dispute", "Opened", "Event", "Status", "Reason", "Answer"], rows)

    @admin.display(description="Flags")
    def flags_panel(self, obj: User) -> SafeString:
        rows = [(_link(f, f"#{f.pk}"), "about this member" if f.target_id == obj.pk else "made by this member",
                 f.reporter.username if f.target_id == obj.pk else f.target.username, f.status, f.reason)
                for f in Flag.objects.filter(Q(target=obj) | Q(reporter=obj)).select_related("reporter", "target")
                .order_by("-created_at")[:30]]
        return _table(["Flag", "", "Who", "Status", "Reason"], rows)

    @admin.display(description="Moderation history")
    def history_panel(self, obj: User) -> SafeString:
        rows = [(_link(a, f"{a.created_at:%Y-%m-%d %H:%M}"), a.actor_name, a.get_action_display(), a.reason)
                for a in AuditEntry.objects.filter(services.member_history_q(obj))[:50]]
        return _table(["When", "Who", "What", "Why"], rows)

    def has_freeze_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scoring.freeze_member")

    @admin.action(description="Freeze selected members…", permissions=["freeze"])
    def freeze_members(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        targets = list(queryset.filter(is_frozen=False, is_active=True).order_by("username"))
        form = confirm_form(FreezeForm, request)
        return confirm_then_run(
            self, request, targets, form=form, done="Frozen",
            run=lambda m, me, data: services.member_freeze(
                member_id=m.pk, by=me, reason=data["reason"], until=data["until"]),
            action="freeze_members", title="Freeze members",
            submit=f"Freeze {len(targets)} member(s)", items=[f"{m.username} (score {m.score})" for m in targets],
            description="They leave every board, their friendships stop counting for friend contagion both ways "
                        "(friends' scores move back exactly), and they cannot change anything until unfrozen. "
                        "They see the reason. Already frozen or inactive members are skipped.",
        )

    @admin.action(description="Unfreeze selected members…", permissions=["freeze"])
    def unfreeze_members(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        targets = list(queryset.filter(is_frozen=True).order_by("username"))
        form = confirm_form(ReasonForm, request)
        return confirm_then_run(
            self, request, targets, form=form, done="Unfrozen",
            run=lambda m, me, data: services.member_unfreeze(member_id=m.pk, by=me, reason=data["reason"]),
            action="unfreeze_members", title="Unfreeze members",
            submit=f"Unfreeze {len(targets)} member(s)", items=[m.username for m in targets],
            description="Everything the freeze took away comes back: boards, friend contagion, writing.",
        )


# --- events --------------------------------------------------------------------------------------


class EventModerationAdmin(CsvExportMixin, EventAdmin):
    actions = [*EventAdmin.actions, "reverse_events", "reinstate_events", "correct_event", "export_csv"]

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scoring.moderate_events")

    @admin.action(description="Reverse selected events…", permissions=["moderate"])
    def reverse_events(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse | None:
        targets = list(queryset.exclude(status=Event.Status.REVERSED).select_related("member", "partner"))
        form = confirm_form(ReasonForm, request)
        return confirm_then_run(
            self, request, targets, form=form, done="Reversed",
            run=lambda e, me, data: services.event_reverse(event_id=e.pk, by=me, reason=data["reason"]),
            action="reverse_events", title="Reverse events",
            submit=f"Reverse {len(targets)} event(s)",
            items=[f"#{e.pk} {e.member.username}: {e.get_kind_display()} {e.amount} {e.currency} "
                   f"({e.partner.name}, {e.occurred_at:%Y-%m-%d})" for e in targets],
            description="The events stop counting; each member is rescored from their remaining events, "
                        "their friends' contagion follows, and each member is told why.",
        )

    @admin.action(description="Reinstate selected reversed events…", permissions=["moderate"])
    def reinstate_events(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse | None:
        targets = list(queryset.filter(status=Event.Status.REVERSED).select_related("member", "partner"))
        form = confirm_form(ReasonForm, request)
        return confirm_then_run(
            self, request, targets, form=form, done="Reinstated",
            run=lambda e, me, data: services.event_reinstate(event_id=e.pk, by=me, reason=data["reason"]),
            action="reinstate_events", title="Reinstate events",
            submit=f"Reinstate {len(targets)} event(s)",
            items=[f"#{e.pk} {e.member.username}: {e.get_kind_display()} {e.amount} {e.currency}" for e in targets],
            description="The events count again; each member is rescored and told.",
        )

    @admin.action(description="Correct the selected event…", permissions=["moderate"])
    def correct_event(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one event to correct.", messages.WARNING)
            return None
        event = queryset.select_related("member", "partner").get()
        initial = {f: getattr(event, f) for f in services.CORRECTABLE_FIELDS}
        form = confirm_form(CorrectForm, request, initial=initial)
        return confirm_then_run(
            self, request, [event], form=form, done="Corrected",
            run=lambda e, me, data: services.event_correct(
                event_id=e.pk, by=me, reason=data["reason"],
                changes={k: v for k, v in data.items() if k != "reason"}),
            action="correct_event", title=f"Correct event #{event.pk}", submit="Correct",
            items=[f"{event.member.username}: {event.get_kind_display()} from {event.partner.name}, "
                   f"{event.occurred_at:%Y-%m-%d}, status {event.status}"],
            description="Change the facts the partner sent (a purchase has an amount only; a payment has a due "
                        "date and either a paid date or 'missed'). The member is rescored and told.",
        )


# --- disputes and flags --------------------------------------------------------------------------


class QueueAdmin(CsvExportMixin, admin.ModelAdmin):
    """A read-only queue, oldest first, with the age of the oldest open item (the service level)."""

    ordering = ["created_at", "id"]
    open_status = "open"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="Age")
    def age(self, obj: Any) -> str:
        return _age(obj.created_at) if obj.status == self.open_status else "—"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        oldest = self.model.objects.filter(status=self.open_status).order_by("created_at").first()
        extra = {
            "open_count": self.model.objects.filter(status=self.open_status).count(),
            "oldest_open_age": _age(oldest.created_at) if oldest else None,
            "oldest_open_since": oldest.created_at if oldest else None,
        }
        return super().changelist_view(request, {**extra, **(extra_context or {})})


class OpenFirstStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(model_admin.model.Status.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(status=self.value()) if self.value() else queryset


class WaitingForFilter(admin.SimpleListFilter):
    """Open disputes by whose move it is: the partner's (within its deadline) or the moderators'
    (the partner confirmed the event, or the dispute was reopened)."""

    title = "waiting for"
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("moderator", "A moderator"), ("partner", "The partner")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        partner = Q(status=Dispute.Status.OPEN, partner_verdict="", respond_by__isnull=False)
        if self.value() == "partner":
            return queryset.filter(partner)
        if self.value() == "moderator":
            return queryset.filter(status=Dispute.Status.OPEN).exclude(partner)
        return queryset


class DisputeStepInline(admin.TabularInline):
    """The dispute's timeline, as the member reads it (read only)."""

    model = DisputeStep
    fields = ["created_at", "by", "kind", "text"]
    readonly_fields = ["created_at", "by", "kind", "text"]
    extra = 0
    can_delete = False
    verbose_name_plural = "timeline (as the member reads it)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DisputeAdmin(QueueAdmin):
    change_list_template = "admin/scoring/dispute/change_list.html"
    list_display = ["id", "member", "event_link", "partner", "kind", "status", "waiting_for", "created_at", "age",
                    "reason", "partner_answer"]
    list_filter = [OpenFirstStatusFilter, WaitingForFilter, "partner_verdict",
                   ("event__partner", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["member__username", "event__external_id", "reason", "partner_note"]
    list_select_related = ["member", "event", "event__partner"]
    actions = ["accept_disputes", "reject_disputes", "export_csv"]
    inlines = [DisputeStepInline]
    fieldsets = [
        (None, {"fields": ["member", "event", "status", "created_at"]}),
        ("The member and the partner", {
            "description": "The member's reason beside the partner's answer to it.",
            "fields": [("reason", "partner_note"), ("partner_verdict", "partner_answered_at", "respond_by")]}),
        ("Resolution", {"fields": ["resolved_at", "resolved_by", "resolution"]}),
    ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Disputes the partner left unanswered past their deadline resolve first (no beat in the
        # embedded mode; a no-op otherwise, the hourly task having done it).
        disputes.disputes_resolve_unanswered()
        return super().changelist_view(request, extra_context)

    @admin.display(description="Waiting for")
    def waiting_for(self, obj: Dispute) -> str:
        if obj.status != Dispute.Status.OPEN:
            return "—"
        if not obj.partner_verdict and obj.respond_by is not None:
            return f"the partner (by {obj.respond_by:%Y-%m-%d})"
        return "a moderator"

    @admin.display(description="Partner's answer")
    def partner_answer(self, obj: Dispute) -> str:
        if not obj.partner_verdict:
            return "—"
        return f"{obj.get_partner_verdict_display()}: “{obj.partner_note}”" if obj.partner_note \
            else obj.get_partner_verdict_display()

    @admin.display(description="Event")
    def event_link(self, obj: Dispute) -> SafeString:
        e = obj.event
        return _link(e, f"#{e.pk} {e.get_kind_display()} {e.amount} {e.currency} ({e.status})")

    @admin.display(description="Partner", ordering="event__partner__name")
    def partner(self, obj: Dispute) -> str:
        return obj.event.partner.name

    @admin.display(description="Kind")
    def kind(self, obj: Dispute) -> str:
        return obj.event.get_kind_display()

    @admin.action(description="Accept selected disputes (reverse the events)…", permissions=["change"])
    def accept_disputes(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> HttpResponse | None:
        targets = list(queryset.filter(status=Dispute.Status.OPEN).select_related("member", "event", "event__partner"))
        form = confirm_form(NoteForm, request)
        return confirm_then_run(
            self, request, targets, form=form, done="Accepted",
            run=lambda d, me, data: services.dispute_accept(dispute_id=d.pk, by=me, note=data["note"]),
            action="accept_disputes", title="Accept disputes",
            submit=f"Accept {len(targets)} dispute(s)",
            items=[f"#{d.pk} {d.member.username}: {d.event.get_kind_display()} {d.event.amount} "
                   f"{d.event.currency} from {d.event.partner.name} — “{d.reason}”"
                   + (f" · {d.event.partner.name}: “{d.partner_note}”" if d.partner_note else "") for d in targets],
            description="Each disputed event is reversed: the member is rescored from their remaining events, "
                        "friends' contagion follows, every affected ledger explains it, and the member is told.",
        )

    @admin.action(description="Reject selected disputes…", permissions=["change"])
    def reject_disputes(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> HttpResponse | None:
        targets = list(queryset.filter(status=Dispute.Status.OPEN).select_related("member", "event", "event__partner"))
        form = confirm_form(ReasonForm, request)
        return confirm_then_run(
            self, request, targets, form=form, done="Rejected",
            run=lambda d, me, data: services.dispute_reject(dispute_id=d.pk, by=me, reason=data["reason"]),
            action="reject_disputes", title="Reject disputes",
            submit=f"Reject {len(targets)} dispute(s)",
            items=[f"#{d.pk} {d.member.username}: “{d.reason}”"
                   + (f" · {d.event.partner.name}: “{d.partner_note}”" if d.partner_note else "") for d in targets],
            description="The events keep counting. The members see your reason.",
        )


class FlagAdmin(QueueAdmin):
    change_list_template = "admin/scoring/flag/change_list.html"
    list_display = ["id", "target", "reporter", "status", "created_at", "age", "reason"]
    list_filter = [OpenFirstStatusFilter, "created_at"]
    search_fields = ["target__username", "reporter__username", "reason"]
    list_select_related = ["target", "reporter"]
    actions = ["uphold_flags", "dismiss_flags", "export_csv"]

    def get_urls(self) -> list:
        report = path("suspicious-patterns/", self.admin_site.admin_view(self.suspicious_patterns_view),
                      name="scoring_suspicious_patterns")
        return [report, *super().get_urls()]

    def suspicious_patterns_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("scoring.view_suspicious_patterns"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Suspicious patterns",
            "opts": self.model._meta,
            "report": moderation_reports.suspicious_patterns(),
        }
        return TemplateResponse(request, "moderation/suspicious.html", context)

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Flag], *, uphold: bool) -> HttpResponse | None:
        targets = list(queryset.filter(status=Flag.Status.OPEN).select_related("target", "reporter"))
        form = confirm_form(ReasonForm, request)
        verb, done = ("Uphold", "Upheld") if uphold else ("Dismiss", "Dismissed")
        return confirm_then_run(
            self, request, targets, form=form, done=done,
            run=lambda f, me, data: services.flag_resolve(
                flag_id=f.pk, by=me, uphold=uphold, note=data["reason"]),
            action="uphold_flags" if uphold else "dismiss_flags", title=f"{verb} flags",
            submit=f"{verb} {len(targets)} flag(s)",
            items=[f"#{f.pk} {f.target.username} (flagged by {f.reporter.username}): “{f.reason}”" for f in targets],
            description="The reporters are thanked; the flagged members are not told. Upholding records the "
                        "decision only: freeze, cut or reverse separately.",
        )

    @admin.action(description="Uphold selected flags…", permissions=["change"])
    def uphold_flags(self, request: HttpRequest, queryset: QuerySet[Flag]) -> HttpResponse | None:
        return self._resolve(request, queryset, uphold=True)

    @admin.action(description="Dismiss selected flags…", permissions=["change"])
    def dismiss_flags(self, request: HttpRequest, queryset: QuerySet[Flag]) -> HttpResponse | None:
        return self._resolve(request, queryset, uphold=False)


# --- the audit log -------------------------------------------------------------------------------


class AuditEntryAdmin(CsvExportMixin, admin.ModelAdmin):
    """Read-only for everyone, superusers included; "Undo" records a new, opposite action."""

    list_display = ["created_at", "actor_name", "action", "member", "target_type", "target_id", "reason",
                    "undone"]
    list_filter = ["action", "actor_name", "created_at"]
    search_fields = ["member__username", "actor_name", "reason"]
    list_select_related = ["member"]
    actions = ["undo_actions", "export_csv"]
    readonly_fields = ["created_at", "actor", "actor_name", "action", "member", "target_type", "target_id",
                       "reason", "before", "after", "undoes", "undone"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_undo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scoring.undo_action")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        # "Undone by" reads the reverse relation: one prefetch for the page, not a query per row.
        return super().get_queryset(request).prefetch_related("undone_by")

    @admin.display(description="Undone by")
    def undone(self, obj: AuditEntry) -> str:
        undo = next(iter(obj.undone_by.all()), None)  # type: ignore[attr-defined]
        return f"{undo.actor_name}, {undo.created_at:%Y-%m-%d %H:%M}" if undo else ""

    @admin.action(description="Undo selected actions…", permissions=["undo"])
    def undo_actions(self, request: HttpRequest, queryset: QuerySet[AuditEntry]) -> HttpResponse | None:
        targets = list(queryset.filter(action__in=services.UNDOABLE, undone_by__isnull=True).order_by("-created_at"))
        form = confirm_form(ReasonForm, request)
        return confirm_then_run(
            self, request, targets, form=form, done="Undone",
            run=lambda a, me, data: services.action_undo(entry_id=a.pk, by=me, reason=data["reason"]),
            action="undo_actions", title="Undo actions",
            submit=f"Undo {len(targets)} action(s)",
            items=[f"{a.created_at:%Y-%m-%d %H:%M} {a.actor_name}: {a.get_action_display()} — {a.reason}"
                   for a in targets],
            description="Each action is undone by its opposite (unfreeze undoes a freeze, reinstate undoes a "
                        "reversal, …), recorded here as a new entry. Already undone actions are skipped.",
        )


# --- friendships ---------------------------------------------------------------------------------


class AuditedFriendshipAdmin(CsvExportMixin, FriendshipAdmin):
    """The social app's friendship admin, with cuts going through the audited service."""

    actions = ["cut", "export_csv"]

    def cut_one(self, friendship: Friendship, *, by: Any, reason: str) -> bool:
        return services.friendship_cut(friendship_id=friendship.pk, by=by, reason=reason) is not None


def register(site: admin.AdminSite) -> None:
    for model, model_admin in ((User, MemberAdmin), (Event, EventModerationAdmin),
                               (Friendship, AuditedFriendshipAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
    site.register(Dispute, DisputeAdmin)
    site.register(Flag, FlagAdmin)
    site.register(AuditEntry, AuditEntryAdmin)
