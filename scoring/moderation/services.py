"""Moderation (DESIGN.md §10): disputes, event reversal and correction, freezing, flags, the
audit log and undo.

Every moderator action goes through a service here, which records one append-only
``AuditEntry`` (who, when, what, why, before and after) in the same transaction as the change,
and tells the member concerned (a notification in their feed and, after commit, an email). An action is
undone by another action (``action_undo``), itself audited.

Concurrency: a service that changes a member's score or account first locks the member's row
(``config.kernel.locks``), then claims the row it acts on with a conditional ``UPDATE`` whose
row count decides (a dispute is resolved once, an event reversed once). Scores move only through
the ledger's services (``cause=moderation``); friends' contagion follows through the
``bases_changed`` signal, and a freeze removes the member's edges through
``contagion_edges_sync`` — the same paths a rebuild recomputes. A refusal raises
``ModerationError`` (a ``DomainError``) or the kernel's ``NotFound``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.members.models import User
from accounts.members.services import user_update_profile
from accounts.members.signals import profile_changed
from accounts.notifications import feed as notifications
from accounts.notifications.models import Notification
from config.kernel import locks
from config.kernel.after_commit import call_on_commit, enqueue_on_commit, send_on_commit
from config.kernel.errors import DomainError, ErrorCode, NotFound
from scoring.ingestion.models import Event
from scoring.ledger import selectors, services
from scoring.ledger.models import ScoreChange
from scoring.ledger.services import Rescored
from scoring.model import describe_event
from scoring.moderation import furnisher
from scoring.moderation.models import REASON_MAX_LENGTH, AuditEntry, Dispute, DisputeStep, Flag
from scoring.moderation.signals import dispute_decided
from scoring.webhooks.models import WebhookType
from scoring.webhooks.outbox import events_record
from social.graph import services as social_services
from social.graph.models import Friendship
from social.graph.selectors import member_by_username

logger = logging.getLogger(__name__)

Action = AuditEntry.Action

#: Open disputes a member may have at once.
MAX_OPEN_DISPUTES = 20
#: Flags a member may raise in any rolling window of FLAG_WINDOW.
MAX_FLAGS_PER_DAY = 10
FLAG_WINDOW = timedelta(days=1)
#: Fields of an event a moderator may correct.
CORRECTABLE_FIELDS = ("amount", "amount_paid", "due_date", "paid_date", "missed")


# --- errors --------------------------------------------------------------------------------------


class ModerationCode:
    NOT_FOUND = ErrorCode.NOT_FOUND
    DISPUTE_ALREADY_OPEN = "dispute_already_open"  # 409
    NOT_DISPUTABLE = "not_disputable"  # 409: the event was already reversed
    TOO_MANY_OPEN_DISPUTES = "too_many_open_disputes"  # 429
    DISPUTE_CLOSED = "dispute_closed"  # 409: already accepted or rejected
    REASON_REQUIRED = "reason_required"  # 400
    NOT_REVERSIBLE = "not_reversible"  # 409
    NOT_REVERSED = "not_reversed"  # 409
    INVALID_CORRECTION = "invalid_correction"  # 400
    ALREADY_FROZEN = "already_frozen"  # 409
    NOT_FROZEN = "not_frozen"  # 409
    INVALID_UNTIL = "invalid_until"  # 400
    CANNOT_FLAG_SELF = "cannot_flag_self"  # 400
    ALREADY_FLAGGED = "already_flagged"  # 409
    RATE_LIMITED = "rate_limited"  # 429
    FLAG_CLOSED = "flag_closed"  # 409
    ALREADY_UNDONE = "already_undone"  # 409
    NOT_UNDOABLE = "not_undoable"  # 409


class ModerationError(DomainError):
    """A moderation rule said no (``ModerationCode``; 400 unless the raise says otherwise). A
    target that does not exist, or is not the member's, raises the kernel's ``NotFound``."""


def _conflict(code: str, detail: str) -> ModerationError:
    return ModerationError(detail, status=409, code=code)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError("Give a reason.", code=ModerationCode.REASON_REQUIRED)
    return reason


# --- audit and notices ---------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """Dates, datetimes and decimals as ISO strings; everything else as it is (JSON types)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def audit_record(
    *, actor: User | None, action: str, target_type: str, target_id: int | None, reason: str,
    member: User | int | None = None, before: dict | None = None, after: dict | None = None,
    undoes: AuditEntry | None = None, actor_name: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log (inside the caller's transaction). ``actor_name``: who
    acted when it is not a member of ours (``partner:<slug>``); else the actor's username, or
    "system" without an actor."""
    member_id = member.pk if isinstance(member, User) else member
    try:
        with transaction.atomic():
            return AuditEntry.objects.create(
                actor=actor, action=action,
                actor_name=actor_name or (actor.username if actor is not None else "system"),
                member_id=member_id, target_type=target_type, target_id=target_id, reason=reason,
                before=json_safe(before or {}), after=json_safe(after or {}), undoes=undoes,
            )
    except IntegrityError as exc:  # undone_at_most_once: a concurrent undo won
        raise _conflict(ModerationCode.ALREADY_UNDONE, "That action was already undone.") from exc


#: The kinds of notification moderation writes (the first clients' ``me/notices/``).
NOTICE_KINDS = (Notification.Kind.ACCOUNT, Notification.Kind.EVENT, Notification.Kind.DISPUTE,
                Notification.Kind.FLAG)
#: Where a moderation notification points, by kind (URL names; none for the others).
_LINKS: dict[str, str] = {Notification.Kind.EVENT: "score-events", Notification.Kind.DISPUTE: "score-events"}


def notify(*, member: User, kind: str, text: str, subject: str) -> Notification | None:
    """A notification in the member's feed now, and an email after commit (if the member has an
    address). Account, event and dispute decisions cannot be muted (``notifications.UNMUTABLE``);
    a muted kind (flag reviews) sends neither. None when muted."""
    link = reverse(_LINKS[kind]) if kind in _LINKS else ""
    notice = notifications.notify(member_id=member.pk, kind=kind, text=text, link=link)
    if notice is not None and member.email:
        body = f"Hello {member.username},\n\n{text}\n\nYou can see this on your Credo dashboard.\n"
        call_on_commit(send_mail, f"Credo: {subject}", body, settings.DEFAULT_FROM_EMAIL, [member.email])
    return notice


# --- events: reverse, reinstate, correct ---------------------------------------------------------


def _event_locked(event_id: int) -> tuple[User, Event]:
    """The event's member (row locked first, like every writer of the member) and the event with
    its partner. ``NotFound`` when there is no such event."""
    member_id = Event.objects.filter(pk=event_id).values_list("member_id", flat=True).first()
    if member_id is None:
        raise NotFound()
    return locks.member_lock(member_id), Event.objects.select_related("partner").get(pk=event_id)


def _event_text(event: Event) -> str:
    return describe_event(selectors.event_fact(event))


def _event_snapshot(event: Event) -> dict[str, Any]:
    return {"status": event.status, **{f: getattr(event, f) for f in CORRECTABLE_FIELDS}}


def _rescore(*, member: User, event: Event | None, explanation: str) -> Rescored:
    """The (locked) member rescored from their scored events; a ``moderation`` ledger row
    pointing at ``event`` when it moved."""
    return services.member_rescore(member_id=member.pk, cause=ScoreChange.Cause.MODERATION,
                                   explanation=explanation, event=event)


def _score_line(r: Rescored) -> str:
    if r.old_score is None or r.old_score == r.new_score:
        return f"Your score: {r.new_score}."
    return f"Your score: {r.old_score} → {r.new_score}."


def _reverse(*, member: User, event: Event, explanation: str) -> tuple[dict, dict, Rescored]:
    """Mark the event reversed (once) and rescore the member if it had counted."""
    was = event.status
    if was not in (Event.Status.SCORED, Event.Status.PENDING, Event.Status.FAILED):
        raise _conflict(ModerationCode.NOT_REVERSIBLE, "This event is already reversed.")
    before = _event_snapshot(event)
    if not Event.objects.filter(pk=event.pk, status=was).update(status=Event.Status.REVERSED):
        raise _conflict(ModerationCode.NOT_REVERSIBLE, "This event changed meanwhile; reload and retry.")
    event.status = Event.Status.REVERSED
    events_record(events=[event], type=WebhookType.EVENT_REVERSED, status=Event.Status.REVERSED,
                  members={member.pk: member})
    rescored = _rescore(member=member, event=event, explanation=explanation) if was == Event.Status.SCORED \
        else Rescored(None, None, False)
    return before, _event_snapshot(event), rescored


@transaction.atomic
def event_reverse(*, event_id: int, by: User | None, reason: str, undoes: AuditEntry | None = None) -> AuditEntry:
    """A moderator reverses an event outside a dispute: it no longer counts; the member is
    rescored from their remaining events (friends follow through contagion) and told why."""
    reason = _require_reason(reason)
    member, event = _event_locked(event_id)
    text = _event_text(event)
    before, after, rescored = _reverse(member=member, event=event, explanation=f"Reversed by a moderator: {text}")
    notify(member=member, kind=Notification.Kind.EVENT, subject="an event was reversed",
           text=f"A moderator reversed this event: {text}. It no longer counts. Why: {reason}. {_score_line(rescored)}")
    return audit_record(actor=by, action=Action.EVENT_REVERSE, target_type="event", target_id=event.pk,
                        member=member, reason=reason, before=before, after=after, undoes=undoes)


@transaction.atomic
def event_reinstate(*, event_id: int, by: User | None, reason: str, undoes: AuditEntry | None = None) -> AuditEntry:
    """Undo a reversal: the event counts again (scored again if it had been, else back in the
    scoring queue)."""
    reason = _require_reason(reason)
    member, event = _event_locked(event_id)
    if event.status != Event.Status.REVERSED:
        raise _conflict(ModerationCode.NOT_REVERSED, "This event is not reversed.")
    before = _event_snapshot(event)
    to = Event.Status.SCORED if event.scored_at is not None else Event.Status.PENDING
    if not Event.objects.filter(pk=event.pk, status=Event.Status.REVERSED).update(status=to):
        raise _conflict(ModerationCode.NOT_REVERSED, "This event changed meanwhile; reload and retry.")
    event.status = to
    text = _event_text(event)
    if to == Event.Status.SCORED:
        rescored = _rescore(member=member, event=event, explanation=f"Reinstated by a moderator: {text}")
        # It counts again: the partner's last word on it (event.reversed) no longer holds. (A pending
        # one is scored again, and that says so.)
        furnisher.partner_webhook(type=WebhookType.EVENT_SCORED, event=event)
    else:
        rescored = Rescored(None, None, False)
        enqueue_on_commit("scoring.ledger.tasks.score_members", [member.pk])
    notify(member=member, kind=Notification.Kind.EVENT, subject="an event counts again",
           text=f"A moderator reinstated this event: {text}. It counts again. Why: {reason}. {_score_line(rescored)}")
    return audit_record(actor=by, action=Action.EVENT_REINSTATE, target_type="event", target_id=event.pk,
                        member=member, reason=reason, before=before, after=_event_snapshot(event), undoes=undoes)


def _parse_field(name: str, value: Any) -> Any:
    """Values as they come back from an audit entry's JSON."""
    if value is None:
        return None
    if name in ("amount", "amount_paid"):
        return Decimal(str(value))
    if name in ("due_date", "paid_date") and isinstance(value, str):
        return parse_date(value)
    return value


class InvalidCorrection(ModerationError):
    """A correction that breaks an event's rules (400 ``invalid_correction``); ``field`` names the
    first offending field, for an API that reports fields."""

    code = ModerationCode.INVALID_CORRECTION

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail)
        self.field = field


def _validate_correction(event: Event, values: dict[str, Any]) -> None:
    invalid = InvalidCorrection
    amount = values["amount"]
    if amount is None or amount <= 0:
        raise invalid("The amount must be positive.", field="amount")
    if event.kind == Event.Kind.PURCHASE:
        extra = [f for f in ("due_date", "paid_date", "missed") if values[f]]
        if extra or values["amount_paid"] is not None:
            raise invalid("A purchase has an amount only.", field=(extra or ["amount_paid"])[0])
        return
    if values["due_date"] is None:
        raise invalid("A payment needs its due date.", field="due_date")
    if bool(values["paid_date"]) == bool(values["missed"]):
        raise invalid("Give either the paid date or 'missed' (exactly one).", field="paid_date")
    paid = values["amount_paid"]
    if paid is not None and (paid < 0 or paid > amount):
        raise invalid("The amount paid must be between 0 and the amount.", field="amount_paid")


@transaction.atomic
def event_correct(
    *, event_id: int, by: User | None, reason: str, changes: dict[str, Any], undoes: AuditEntry | None = None,
    who: str = "a moderator", actor_name: str | None = None,
) -> AuditEntry:
    """A moderator corrects an event's facts (amount, dates, missed); the member is rescored if
    it counts. ``changes``: a subset of ``CORRECTABLE_FIELDS``. ``who`` corrected it, as the
    member reads it (a partner answering a dispute: its name; ``actor_name`` in the audit log)."""
    reason = _require_reason(reason)
    unknown = set(changes) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise ModerationError(f"Not correctable: {', '.join(sorted(unknown))}.", code=ModerationCode.INVALID_CORRECTION)
    member, event = _event_locked(event_id)
    changes = {k: _parse_field(k, v) for k, v in changes.items()}
    before_values = {f: getattr(event, f) for f in CORRECTABLE_FIELDS}
    values = {**before_values, **changes}
    _validate_correction(event, values)
    changed = {k: v for k, v in values.items() if before_values[k] != v}
    if not changed:
        raise InvalidCorrection("Nothing to correct: the values are the same.", field=next(iter(changes), "amount"))
    old_text = _event_text(event)
    changed_at = timezone.now()  # the partner's status API tells the event was corrected
    Event.objects.filter(pk=event.pk).update(**changed, corrected_at=changed_at)
    for k, v in {**changed, "corrected_at": changed_at}.items():
        setattr(event, k, v)
    new_text = _event_text(event)
    events_record(events=[event], type=WebhookType.EVENT_CORRECTED, status="corrected", members={member.pk: member})
    rescored = Rescored(None, None, False)
    if event.status == Event.Status.SCORED:
        rescored = _rescore(member=member, event=event, explanation=f"Corrected by {who}: {new_text}")
    notify(member=member, kind=Notification.Kind.EVENT, subject="an event was corrected",
           text=f"{who[:1].upper()}{who[1:]} corrected an event: was “{old_text}”, now “{new_text}”. Why: {reason}. "
                f"{_score_line(rescored) if rescored.new_score is not None else ''}".strip())
    return audit_record(
        actor=by, action=Action.EVENT_CORRECT, target_type="event", target_id=event.pk, member=member,
        reason=reason, before={k: before_values[k] for k in changed}, after=changed, undoes=undoes,
        actor_name=actor_name,
    )


# --- disputes ------------------------------------------------------------------------------------


ALREADY_DISPUTED = "You already disputed this event; a moderator will answer."


@transaction.atomic
def dispute_open(*, member: User, event_id: int, reason: str) -> Dispute:
    """The member disputes one of their own events. Another member's event, or one that does not
    exist: ``NotFound`` (the same answer). One open dispute per event."""
    reason = _require_reason(reason)
    locks.member_lock(member.pk)  # the open-disputes cap is check-then-act
    event = Event.objects.filter(pk=event_id, member=member).select_related("partner").first()
    if event is None:
        raise NotFound()
    if event.status == Event.Status.REVERSED:
        raise _conflict(ModerationCode.NOT_DISPUTABLE, "This event was already reversed: it no longer counts.")
    if Dispute.objects.filter(event=event, status=Dispute.Status.OPEN).exists():
        raise _conflict(ModerationCode.DISPUTE_ALREADY_OPEN, ALREADY_DISPUTED)
    if Dispute.objects.filter(member=member, status=Dispute.Status.OPEN).count() >= MAX_OPEN_DISPUTES:
        raise ModerationError(f"You have {MAX_OPEN_DISPUTES} open disputes: wait for answers first.",
                              status=429, code=ModerationCode.TOO_MANY_OPEN_DISPUTES)
    now = timezone.now()
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                member=member, event=event, reason=reason[:REASON_MAX_LENGTH], created_at=now,
                respond_by=now + timedelta(days=settings.DISPUTE_FURNISHER_DAYS))
    except IntegrityError as exc:  # one_open_dispute_per_event: a concurrent request won
        raise _conflict(ModerationCode.DISPUTE_ALREADY_OPEN, ALREADY_DISPUTED) from exc
    furnisher.dispute_opened(dispute=dispute)
    return dispute


def _dispute_claim(*, dispute_id: int, by: User | None, status: str, resolution: str,
                   claim: dict[str, Any] | None = None) -> tuple[User, Dispute]:
    member_id = Dispute.objects.filter(pk=dispute_id).values_list("member_id", flat=True).first()
    if member_id is None:
        raise NotFound()
    member = locks.member_lock(member_id)
    claimed = Dispute.objects.filter(pk=dispute_id, status=Dispute.Status.OPEN, **(claim or {})).update(
        status=status, resolved_at=timezone.now(), resolved_by=by, resolution=resolution
    )
    if not claimed:
        raise _conflict(ModerationCode.DISPUTE_CLOSED, "This dispute was already answered.")
    # The badges listen (scoring.moderation.signals).
    send_on_commit(dispute_decided, sender=Dispute, dispute_id=dispute_id, member_id=member_id, status=status)
    return member, Dispute.objects.select_related("event", "event__partner").get(pk=dispute_id)


@transaction.atomic
def dispute_accept(*, dispute_id: int, by: User | None, note: str = "") -> AuditEntry:
    """Accept: the event is reversed, the member rescored (``moderation`` ledger row), friends'
    contagion follows; the member is told."""
    note = (note or "").strip()
    return dispute_accept_as(dispute_id=dispute_id, by=by, resolution=note or "Your dispute was accepted.",
                             note=note, action=Action.DISPUTE_ACCEPT, step_kind=DisputeStep.Kind.ACCEPTED,
                             step_by=DisputeStep.By.MODERATOR, step_text="A moderator accepted your dispute")


def dispute_accept_as(
    *, dispute_id: int, by: User | None, resolution: str, note: str, action: str, step_kind: str, step_by: str,
    step_text: str, why: str = "", actor_name: str | None = None, claim: dict[str, Any] | None = None,
) -> AuditEntry:
    """Resolve an open dispute in the member's favour (a moderator's accept, the partner's
    withdrawal, the partner's silence past ``respond_by``): the event is reversed (rescore,
    contagion, ledger), the member told, the step on the timeline, ``dispute.resolved`` recorded
    for the partner, audited as ``action``. ``why`` is said in the ledger and the notice (e.g.
    "Acme Bank withdrew the event"); ``claim``: conditions the open dispute must still meet
    (else 409 ``dispute_closed``). Inside the caller's transaction."""
    member, dispute = _dispute_claim(dispute_id=dispute_id, by=by, status=Dispute.Status.ACCEPTED,
                                     resolution=resolution, claim=claim)
    event = dispute.event
    event.member = member
    text = _event_text(event)
    before_event = _event_snapshot(event)
    rescored = Rescored(None, None, False)
    if event.status != Event.Status.REVERSED:
        cause = f"Dispute accepted ({why}), event reversed" if why else "Dispute accepted, event reversed"
        before_event, _, rescored = _reverse(member=member, event=event, explanation=f"{cause}: {text}")
    score_line = _score_line(rescored) if rescored.new_score is not None else ""
    because = f" {why}, so" if why else ""
    notify(member=member, kind=Notification.Kind.DISPUTE, subject="your dispute was accepted",
           text=f"Your dispute of “{text}” was accepted:{because} the event no longer counts. "
                f"{note + ' ' if note else ''}{score_line}".strip())
    furnisher.dispute_resolved(dispute=dispute, kind=step_kind, by=step_by,
                               text=f"{step_text}: the event no longer counts. {note + ' ' if note else ''}"
                                    f"{score_line}".strip())
    return audit_record(
        actor=by, action=action, target_type="dispute", target_id=dispute.pk, member=member,
        reason=note or resolution, actor_name=actor_name,
        before={"dispute": "open", "event_id": event.pk, "event": before_event},
        after={"dispute": "accepted", "event_id": event.pk, "event": _event_snapshot(event)},
    )


@transaction.atomic
def dispute_reject(*, dispute_id: int, by: User | None, reason: str) -> AuditEntry:
    """Reject: the event keeps counting; the member sees ``reason``."""
    reason = _require_reason(reason)
    member, dispute = _dispute_claim(dispute_id=dispute_id, by=by, status=Dispute.Status.REJECTED, resolution=reason)
    dispute.event.member = member
    text = _event_text(dispute.event)
    notify(member=member, kind=Notification.Kind.DISPUTE, subject="your dispute was answered",
           text=f"Your dispute of “{text}” was rejected: the event still counts. Why: {reason}")
    furnisher.dispute_resolved(dispute=dispute, kind=DisputeStep.Kind.REJECTED, by=DisputeStep.By.MODERATOR,
                               text=f"A moderator rejected your dispute: the event still counts. Why: {reason}")
    return audit_record(
        actor=by, action=Action.DISPUTE_REJECT, target_type="dispute", target_id=dispute.pk, member=member,
        reason=reason, before={"dispute": "open", "event_id": dispute.event_id},
        after={"dispute": "rejected", "event_id": dispute.event_id},
    )


def _reopen(model: type[Dispute] | type[Flag], pk: int, *, taken: str, already: str) -> None:
    """Put a resolved dispute or flag back in its queue (a conditional update: never twice)."""
    try:
        with transaction.atomic():
            reopened = model.objects.filter(pk=pk).exclude(status=model.Status.OPEN).update(
                status=model.Status.OPEN, resolved_at=None, resolved_by=None, resolution=""
            )
    except IntegrityError as exc:  # the one-open-per-… constraint: another one is open now
        raise _conflict(ModerationCode.NOT_UNDOABLE, taken) from exc
    if not reopened:
        raise _conflict(ModerationCode.NOT_UNDOABLE, already)


def _dispute_reopen(*, dispute_id: int, by: User | None, reason: str, undoes: AuditEntry) -> AuditEntry:
    """Back in the queue (part of an undo; the caller holds the member's lock)."""
    dispute = Dispute.objects.select_related("event", "event__partner").get(pk=dispute_id)
    was = dispute.status
    _reopen(Dispute, dispute_id, taken="Another dispute of this event is open now.",
            already="This dispute is open already.")
    # Back with the moderators: the partner's deadline (maybe past) must not resolve it again.
    Dispute.objects.filter(pk=dispute_id).update(respond_by=None)
    furnisher.dispute_step(dispute=dispute, kind=DisputeStep.Kind.REOPENED, by=DisputeStep.By.MODERATOR,
                           text=f"A moderator reopened your dispute. Why: {reason}")
    dispute.refresh_from_db()
    # Disputed again: the partner's last word on it (dispute.resolved) no longer holds.
    furnisher.partner_webhook(type=WebhookType.EVENT_DISPUTED, event=dispute.event, dispute=dispute)
    notify(member=dispute.member, kind=Notification.Kind.DISPUTE, subject="your dispute is under review again",
           text=f"Your dispute of “{_event_text(dispute.event)}” is under review again. Why: {reason}")
    return audit_record(actor=by, action=Action.DISPUTE_REOPEN, target_type="dispute", target_id=dispute_id,
                        member=dispute.member_id, reason=reason, before={"dispute": was},
                        after={"dispute": "open"}, undoes=undoes)


# --- freezing ------------------------------------------------------------------------------------


def _freeze_snapshot(member: User) -> dict[str, Any]:
    return {"is_frozen": member.is_frozen, "frozen_at": member.frozen_at, "frozen_until": member.frozen_until,
            "frozen_reason": member.frozen_reason}


def _after_freeze_change(member_id: int, explanation: str) -> None:
    """After commit: the member's contagion edges leave or rejoin (exactly, through the engine),
    and boards re-list them (``profile_changed``)."""
    enqueue_on_commit("scoring.contagion.tasks.contagion_edges_sync", [member_id], explanation)
    send_on_commit(profile_changed, sender=User, user_id=member_id, fields=["is_frozen"])


@transaction.atomic
def member_freeze(
    *, member_id: int, by: User | None, reason: str, until: datetime | None = None,
    undoes: AuditEntry | None = None,
) -> AuditEntry:
    """Freeze an account: off every board, out of friend contagion both ways, API writes refused;
    the member sees why. ``until``: when a periodic task unfreezes them (None: by hand)."""
    reason = _require_reason(reason)
    now = timezone.now()
    if until is not None and until <= now:
        raise ModerationError("The end date must be in the future.", code=ModerationCode.INVALID_UNTIL)
    member = locks.member_lock(member_id)
    if member.is_frozen:
        raise _conflict(ModerationCode.ALREADY_FROZEN, f"{member.username} is frozen already.")
    before = _freeze_snapshot(member)
    User.objects.filter(pk=member.pk).update(is_frozen=True, frozen_at=now, frozen_until=until, frozen_reason=reason)
    member.is_frozen, member.frozen_at, member.frozen_until, member.frozen_reason = True, now, until, reason
    ends = f" until {until:%Y-%m-%d %H:%M} UTC" if until else " until a moderator lifts it"
    notify(member=member, kind=Notification.Kind.ACCOUNT, subject="your account is frozen",
           text=f"A moderator froze your account{ends}. Why: {reason}. While frozen you are off the boards, "
                "your friends' scores and yours do not move each other, and you cannot change anything; "
                "you can still see everything and download your data.")
    _after_freeze_change(member.pk, "A friend's account was frozen")
    return audit_record(actor=by, action=Action.MEMBER_FREEZE, target_type="member", target_id=member.pk,
                        member=member, reason=reason, before=before, after=_freeze_snapshot(member), undoes=undoes)


@transaction.atomic
def member_unfreeze(*, member_id: int, by: User | None, reason: str, undoes: AuditEntry | None = None) -> AuditEntry:
    """Lift a freeze: everything a freeze took away comes back (boards, contagion edges)."""
    reason = _require_reason(reason)
    member = locks.member_lock(member_id)
    if not member.is_frozen:
        raise _conflict(ModerationCode.NOT_FROZEN, f"{member.username} is not frozen.")
    before = _freeze_snapshot(member)
    User.objects.filter(pk=member.pk).update(is_frozen=False, frozen_at=None, frozen_until=None, frozen_reason="")
    member.is_frozen, member.frozen_at, member.frozen_until, member.frozen_reason = False, None, None, ""
    notify(member=member, kind=Notification.Kind.ACCOUNT, subject="your account is no longer frozen",
           text=f"Your account is no longer frozen. {reason}")
    _after_freeze_change(member.pk, "A friend's account was unfrozen")
    return audit_record(actor=by, action=Action.MEMBER_UNFREEZE, target_type="member", target_id=member.pk,
                        member=member, reason=reason, before=before, after=_freeze_snapshot(member), undoes=undoes)


def members_unfreeze_expired(*, now: datetime | None = None) -> int:
    """Periodic: unfreeze members whose freeze reached its end date (audited as "system")."""
    now = now or timezone.now()
    ids = list(User.objects.filter(is_frozen=True, frozen_until__lte=now).order_by("pk").values_list("pk", flat=True))
    done = 0
    for member_id in ids:
        try:
            member_unfreeze(member_id=member_id, by=None, reason="The freeze reached its end date.")
            done += 1
        except ModerationError:  # unfrozen by hand meanwhile
            continue
    return done


# --- friendships ---------------------------------------------------------------------------------


@transaction.atomic
def friendship_cut(*, friendship_id: int, by: User, reason: str) -> AuditEntry | None:
    """Cut a friendship (suspected farming) through the social app, audited. None if it had
    already ended. Both members' contagion is reversed through ``friendship_ended``."""
    reason = _require_reason(reason)
    friendship = Friendship.objects.select_related("member_a", "member_b").get(pk=friendship_id)
    if not social_services.friendship_cut(friendship=friendship, by=by, reason=reason):
        return None
    return audit_record(
        actor=by, action=Action.FRIENDSHIP_CUT, target_type="friendship", target_id=friendship.pk,
        member=friendship.member_a, reason=reason,
        before={"active": True, "members": [friendship.member_a.username, friendship.member_b.username]},
        after={"active": False, "members": [friendship.member_a.username, friendship.member_b.username]},
    )


def _friendship_restore(*, friendship_id: int, by: User | None, reason: str, undoes: AuditEntry) -> AuditEntry:
    friendship = Friendship.objects.select_related("member_a", "member_b").get(pk=friendship_id)
    restored = social_services.friendship_restore(friendship=friendship, by=by) if by is not None else None
    if restored is None:
        raise _conflict(ModerationCode.NOT_UNDOABLE,
                        "This friendship cannot be restored (friends again, a member left, or a block).")
    names = [friendship.member_a.username, friendship.member_b.username]
    return audit_record(
        actor=by, action=Action.FRIENDSHIP_RESTORE, target_type="friendship", target_id=restored.pk,
        member=friendship.member_a, reason=reason, before={"active": False, "members": names, "cut": friendship.pk},
        after={"active": True, "members": names, "accepted_at": restored.accepted_at}, undoes=undoes,
    )


# --- flags ---------------------------------------------------------------------------------------


@transaction.atomic
def flag_create(*, reporter: User, username: str, reason: str) -> Flag:
    """A member flags another member's profile. Unknown or inactive usernames: ``NotFound``.
    At most ``MAX_FLAGS_PER_DAY`` per rolling day; one open flag per (reporter, target)."""
    reason = _require_reason(reason)
    target = member_by_username(username=username)
    if target.pk == reporter.pk:
        raise ModerationError("You cannot flag yourself.", code=ModerationCode.CANNOT_FLAG_SELF)
    locks.member_lock(reporter.pk)  # the daily cap is check-then-act
    since = timezone.now() - FLAG_WINDOW
    if Flag.objects.filter(reporter=reporter, created_at__gt=since).count() >= MAX_FLAGS_PER_DAY:
        raise ModerationError(f"You can flag {MAX_FLAGS_PER_DAY} profiles a day; try again tomorrow.",
                              status=429, code=ModerationCode.RATE_LIMITED)
    try:
        with transaction.atomic():
            return Flag.objects.create(reporter=reporter, target=target, reason=reason[:REASON_MAX_LENGTH])
    except IntegrityError as exc:
        raise _conflict(ModerationCode.ALREADY_FLAGGED, "You already flagged this member; a moderator will look.") \
            from exc


@transaction.atomic
def flag_resolve(*, flag_id: int, by: User | None, uphold: bool, note: str) -> AuditEntry:
    """Uphold or dismiss a flag. The reporter is thanked either way; the flagged member is not
    told (a moderator who upholds it acts separately: freeze, cut, reverse)."""
    note = _require_reason(note)
    status = Flag.Status.UPHELD if uphold else Flag.Status.DISMISSED
    claimed = Flag.objects.filter(pk=flag_id, status=Flag.Status.OPEN).update(
        status=status, resolved_at=timezone.now(), resolved_by=by, resolution=note
    )
    if not claimed:
        if not Flag.objects.filter(pk=flag_id).exists():
            raise NotFound()
        raise _conflict(ModerationCode.FLAG_CLOSED, "This flag was already reviewed.")
    flag = Flag.objects.select_related("reporter", "target").get(pk=flag_id)
    notify(member=flag.reporter, kind=Notification.Kind.FLAG, subject="we reviewed your report",
           text=f"Thank you: a moderator reviewed your report about {flag.target.username}"
                f" and {'acted on it' if uphold else 'found no breach of the rules'}.")
    return audit_record(
        actor=by, action=Action.FLAG_UPHOLD if uphold else Action.FLAG_DISMISS, target_type="flag",
        target_id=flag.pk, member=flag.target, reason=note, before={"flag": "open"}, after={"flag": status},
    )


def _flag_reopen(*, flag_id: int, by: User | None, reason: str, undoes: AuditEntry) -> AuditEntry:
    flag = Flag.objects.get(pk=flag_id)
    was = flag.status
    _reopen(Flag, flag_id, taken="The reporter has another open flag on this member.",
            already="This flag is open already.")
    return audit_record(actor=by, action=Action.FLAG_REOPEN, target_type="flag", target_id=flag_id,
                        member=flag.target_id, reason=reason, before={"flag": was}, after={"flag": "open"},
                        undoes=undoes)


# --- member edits in the admin -------------------------------------------------------------------


def member_edit_record(*, member: User, by: User, before: dict[str, Any], after: dict[str, Any]) -> AuditEntry | None:
    """Audit a moderator's edit of a member's profile in the admin (the admin saved it)."""
    changed = sorted(k for k in after if before.get(k) != after.get(k))
    if not changed:
        return None
    return audit_record(actor=by, action=Action.MEMBER_EDIT, target_type="member", target_id=member.pk,
                        member=member, reason="Edited in the admin",
                        before={k: before.get(k) for k in changed}, after={k: after.get(k) for k in changed})


#: Profile fields whose admin edit can be undone (plain values; never the avatar file).
UNDOABLE_MEMBER_FIELDS = ("first_name", "last_name", "email", "phone", "city", "bio", "timezone",
                          "profile_visibility", "on_global_board", "private_mode")


def _member_edit_revert(*, entry: AuditEntry, by: User | None, reason: str) -> AuditEntry:
    values = {k: v for k, v in entry.before.items() if k in UNDOABLE_MEMBER_FIELDS}
    if not values or entry.member_id is None:
        raise _conflict(ModerationCode.NOT_UNDOABLE, "Nothing in this edit can be undone here.")
    member = locks.member_lock(entry.member_id)
    before = {k: getattr(member, k) for k in values}
    email = values.pop("email", None)
    if email is not None:
        User.objects.filter(pk=member.pk).update(email=email)
    if values:
        user_update_profile(user=member, data=values)
    after = dict(values, **({"email": email} if email is not None else {}))
    return audit_record(actor=by, action=Action.MEMBER_EDIT, target_type="member", target_id=member.pk,
                        member=member, reason=reason, before=before, after=after, undoes=entry)


# --- undo ----------------------------------------------------------------------------------------

UNDOABLE = {
    Action.MEMBER_FREEZE, Action.MEMBER_UNFREEZE, Action.EVENT_REVERSE, Action.EVENT_REINSTATE,
    Action.EVENT_CORRECT, Action.DISPUTE_ACCEPT, Action.DISPUTE_REJECT, Action.FRIENDSHIP_CUT,
    Action.FRIENDSHIP_RESTORE, Action.FLAG_UPHOLD, Action.FLAG_DISMISS, Action.MEMBER_EDIT,
}


def _future(value: str | None) -> datetime | None:
    moment = parse_datetime(value) if value else None
    return moment if moment is not None and moment > timezone.now() else None


@transaction.atomic
def action_undo(*, entry_id: int, by: User | None, reason: str) -> AuditEntry:
    """Undo an audited action by its opposite action (itself audited, ``undoes`` = the entry).
    Each entry is undone at most once; an undo can itself be undone."""
    reason = _require_reason(reason)
    entry = AuditEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise NotFound()
    if entry.action not in UNDOABLE:
        raise _conflict(ModerationCode.NOT_UNDOABLE, f"“{entry.get_action_display()}” cannot be undone.")
    if AuditEntry.objects.filter(undoes=entry).exists():
        raise _conflict(ModerationCode.ALREADY_UNDONE, "That action was already undone.")
    a = entry.action
    target = entry.target_id
    assert target is not None
    if a == Action.MEMBER_FREEZE:
        return member_unfreeze(member_id=target, by=by, reason=reason, undoes=entry)
    if a == Action.MEMBER_UNFREEZE:
        return member_freeze(member_id=target, by=by, reason=entry.before.get("frozen_reason") or reason,
                             until=_future(entry.before.get("frozen_until")), undoes=entry)
    if a == Action.EVENT_REVERSE:
        return event_reinstate(event_id=target, by=by, reason=reason, undoes=entry)
    if a == Action.EVENT_REINSTATE:
        return event_reverse(event_id=target, by=by, reason=reason, undoes=entry)
    if a == Action.EVENT_CORRECT:
        return event_correct(event_id=target, by=by, reason=reason, changes=dict(entry.before), undoes=entry)
    if a == Action.DISPUTE_ACCEPT:
        event_id = entry.after.get("event_id")
        locks.member_lock(Dispute.objects.filter(pk=target).values_list("member_id", flat=True).get())
        undo = _dispute_reopen(dispute_id=target, by=by, reason=reason, undoes=entry)
        if entry.before.get("event", {}).get("status") != Event.Status.REVERSED:
            event_reinstate(event_id=event_id, by=by, reason=f"{reason} (dispute reopened)")
        return undo
    if a == Action.DISPUTE_REJECT:
        locks.member_lock(Dispute.objects.filter(pk=target).values_list("member_id", flat=True).get())
        return _dispute_reopen(dispute_id=target, by=by, reason=reason, undoes=entry)
    if a == Action.FRIENDSHIP_CUT:
        return _friendship_restore(friendship_id=target, by=by, reason=reason, undoes=entry)
    if a == Action.FRIENDSHIP_RESTORE:
        friendship = Friendship.objects.select_related("member_a", "member_b").get(pk=target)
        if by is None or not social_services.friendship_cut(friendship=friendship, by=by, reason=reason):
            raise _conflict(ModerationCode.NOT_UNDOABLE, "This friendship has ended already.")
        names = [friendship.member_a.username, friendship.member_b.username]
        return audit_record(actor=by, action=Action.FRIENDSHIP_CUT, target_type="friendship", target_id=target,
                            member=friendship.member_a, reason=reason, before={"active": True, "members": names},
                            after={"active": False, "members": names}, undoes=entry)
    if a in (Action.FLAG_UPHOLD, Action.FLAG_DISMISS):
        return _flag_reopen(flag_id=target, by=by, reason=reason, undoes=entry)
    return _member_edit_revert(entry=entry, by=by, reason=reason)


# --- reads for the member and the moderators --------------------------------------------------


def member_history_q(member: User) -> Q:
    """Audit entries about a member: those naming them, and cuts of their friendships."""
    friendship_ids = Friendship.objects.of_member(member.pk).values_list("pk", flat=True)
    return Q(member=member) | Q(target_type="friendship", target_id__in=friendship_ids)
