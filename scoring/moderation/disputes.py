"""The dispute loop with the partner that furnished the event (DESIGN.md §8, §10).

A member's dispute goes to the furnishing partner first (``event.disputed``; ``dispute_open``),
which answers by ``respond_by`` (opened + ``DISPUTE_FURNISHER_DAYS``) with
``dispute_partner_answer``:

* ``withdrawn`` — the partner takes the event back: the dispute is accepted and the event
  reversed through the same path as a moderator's accept (rescore, friends' contagion, ledger,
  notice, ``event.reversed`` and ``dispute.resolved``);
* ``corrected`` — the partner replaces the facts through ``event_correct`` (rescore, ledger row,
  the member's notice of the old and new facts, ``event.corrected``), and the dispute ends
  ``corrected``: neither accepted (the event still counts) nor rejected (the member was right that
  it was wrong) — the member sees the correction and its effect, the partner ``dispute.resolved``;
* ``confirmed`` — the partner stands by the event: the dispute stays open and is the moderators'
  to decide (the admin queue shows the partner's note beside the member's reason).

A dispute the partner leaves unanswered past ``respond_by`` resolves in the member's favour
(``disputes_resolve_unanswered``: the beat task hourly; in embedded mode, which has no beat, the
member's events and disputes and the moderators' queue resolve the due ones when they are read).
Every step is on the dispute's timeline and audited; the member is told. A moderator may still
decide at any stage. Concurrency: the member's row is locked first (``config.kernel.locks``), then
the dispute is claimed with a conditional ``UPDATE``: of two answers at once, one wins, the other
gets 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.notifications.models import Notification
from config.kernel import locks
from config.kernel.after_commit import send_on_commit
from config.kernel.errors import DomainError, NotFound
from scoring.ingestion.models import Event, Partner
from scoring.ledger.models import ScoreChange
from scoring.ledger.selectors import event_fact
from scoring.model import describe_event
from scoring.moderation import furnisher
from scoring.moderation.models import AuditEntry, Dispute, DisputeStep
from scoring.moderation.services import audit_record, dispute_accept_as, event_correct, notify
from scoring.moderation.signals import dispute_decided

Verdict = Dispute.Verdict


class DisputeCode:
    NO_OPEN_DISPUTE = "no_open_dispute"  # 409: nothing to answer (never disputed, or resolved already)
    ALREADY_ANSWERED = "already_answered"  # 409: the partner answered this dispute before


class DisputeConflict(DomainError):
    status, code = 409, DisputeCode.NO_OPEN_DISPUTE


def _event_text(event: Event) -> str:
    """The event in words, as the member's notices and the ledger say it."""
    return describe_event(event_fact(event))


def _note(note: str) -> str:
    return f" Their note: “{note}”" if note else ""


@transaction.atomic
def dispute_partner_answer(*, partner: Partner, external_id: str, verdict: str, note: str = "",
                           corrected: dict[str, Any] | None = None) -> Dispute:
    """``partner`` answers the open dispute of its event ``external_id`` (see the module).
    ``NotFound`` for another partner's or an unknown event; 409 ``no_open_dispute`` /
    ``already_answered``; ``corrected`` (a subset of ``CORRECTABLE_FIELDS``, required for the
    ``corrected`` verdict) is checked like a moderator's correction (400 ``invalid_correction``,
    ``InvalidCorrection.field`` names the field). Returns the dispute as it is now."""
    note = (note or "").strip()
    member_id = Event.objects.filter(partner=partner, external_id=external_id).values_list(
        "member_id", flat=True).first()
    if member_id is None:
        raise NotFound()
    locks.member_lock(member_id)  # every writer of the member's disputes and score takes it first
    event = Event.objects.select_related("partner", "member").get(partner=partner, external_id=external_id)
    dispute = Dispute.objects.filter(event=event, status=Dispute.Status.OPEN).first()
    if dispute is None:
        raise DisputeConflict("This event has no open dispute to answer.")
    now = timezone.now()
    claimed = Dispute.objects.filter(pk=dispute.pk, status=Dispute.Status.OPEN, partner_verdict="").update(
        partner_verdict=verdict, partner_note=note, partner_answered_at=now)
    if not claimed:
        raise DisputeConflict("This dispute was already answered.", code=DisputeCode.ALREADY_ANSWERED)
    dispute.partner_verdict, dispute.partner_note, dispute.partner_answered_at = verdict, note, now
    name, actor = partner.name, f"partner:{partner.slug}"
    if verdict == Verdict.WITHDRAWN:
        dispute_accept_as(
            dispute_id=dispute.pk, by=None, resolution=f"{name} withdrew the event.{_note(note)}".strip(),
            note=f"{name}'s note: “{note}”" if note else "", action=AuditEntry.Action.DISPUTE_PARTNER_ANSWER,
            step_kind=DisputeStep.Kind.PARTNER_WITHDREW, step_by=DisputeStep.By.PARTNER,
            step_text=f"{name} withdrew the event", why=f"{name} withdrew the event", actor_name=actor)
    elif verdict == Verdict.CORRECTED:
        _answer_corrected(dispute=dispute, event=event, corrected=corrected or {}, note=note, actor=actor)
    else:
        _answer_confirmed(dispute=dispute, event=event, note=note, actor=actor)
    return Dispute.objects.select_related("event", "event__partner").get(pk=dispute.pk)


def _answer_corrected(*, dispute: Dispute, event: Event, corrected: dict[str, Any], note: str, actor: str) -> None:
    name = event.partner.name
    old_text = _event_text(event)
    last = ScoreChange.objects.filter(member_id=event.member_id).order_by("-id").values_list("id", flat=True).first()
    event_correct(event_id=event.pk, by=None, reason=note or f"{name} corrected it, answering a dispute",
                  changes=corrected, who=name, actor_name=actor)
    event.refresh_from_db()
    new_text = _event_text(event)
    resolution = f"{name} corrected the event: was “{old_text}”, now “{new_text}”.{_note(note)}"
    Dispute.objects.filter(pk=dispute.pk, status=Dispute.Status.OPEN).update(
        status=Dispute.Status.CORRECTED, resolved_at=timezone.now(), resolution=resolution)
    dispute.refresh_from_db()
    member = event.member
    # The correction's own ledger row, if the score moved (event_correct writes one then).
    moved = event.score_changes.filter(pk__gt=last or 0).order_by("-id").first()
    effect = f" Your score: {moved.old_score} → {moved.new_score}." if moved is not None and \
        moved.old_score is not None else ""
    notify(member=member, kind=Notification.Kind.DISPUTE, subject="your dispute was answered",
           text=f"Your dispute of “{old_text}”: {name} corrected the event, which now counts as “{new_text}”."
                f"{_note(note)}{effect}")
    furnisher.dispute_resolved(dispute=dispute, kind=DisputeStep.Kind.PARTNER_CORRECTED, by=DisputeStep.By.PARTNER,
                               text=f"{resolution}{effect}")
    _signal_decided(dispute)
    audit_record(actor=None, actor_name=actor, action=AuditEntry.Action.DISPUTE_PARTNER_ANSWER,
                 target_type="dispute", target_id=dispute.pk, member=member, reason=note or "corrected",
                 before={"dispute": "open", "event_id": event.pk},
                 after={"dispute": "corrected", "verdict": "corrected", "event_id": event.pk,
                        "corrected": corrected})


def _answer_confirmed(*, dispute: Dispute, event: Event, note: str, actor: str) -> None:
    name = event.partner.name
    text = _event_text(event)
    said = f"{name} stands by the event.{_note(note)} A moderator will now review your dispute and decide."
    furnisher.dispute_step(dispute=dispute, kind=DisputeStep.Kind.PARTNER_CONFIRMED, by=DisputeStep.By.PARTNER,
                           text=said)
    notify(member=event.member, kind=Notification.Kind.DISPUTE, subject="your dispute is with a moderator",
           text=f"Your dispute of “{text}”: {said}")
    audit_record(actor=None, actor_name=actor, action=AuditEntry.Action.DISPUTE_PARTNER_ANSWER,
                 target_type="dispute", target_id=dispute.pk, member=event.member, reason=note or "confirmed",
                 before={"dispute": "open", "verdict": None}, after={"dispute": "open", "verdict": "confirmed"})


def _signal_decided(dispute: Dispute) -> None:
    # The badges listen for decided disputes (scoring.moderation.signals), as for a moderator's.
    send_on_commit(dispute_decided, sender=Dispute, dispute_id=dispute.pk, member_id=dispute.member_id,
                   status=dispute.status)


def _unanswered(now: datetime) -> Any:
    return Dispute.objects.filter(status=Dispute.Status.OPEN, partner_verdict="", respond_by__lte=now)


@transaction.atomic
def dispute_resolve_unanswered(*, dispute_id: int, now: datetime | None = None) -> AuditEntry:
    """The partner did not answer dispute ``dispute_id`` by its ``respond_by``: it resolves in the
    member's favour (the event reversed, like an accept), audited with no actor ("system"). 409
    ``dispute_closed`` if it was answered or resolved meanwhile, or is not due."""
    now = now or timezone.now()
    dispute = Dispute.objects.select_related("event__partner").get(pk=dispute_id)
    name = dispute.event.partner.name
    day = f"{dispute.respond_by:%-d %B %Y}" if dispute.respond_by else "its deadline"
    why = f"{name} did not answer it by {day}"
    return dispute_accept_as(
        dispute_id=dispute_id, by=None, resolution=f"{why}: resolved in your favour.", note="",
        action=AuditEntry.Action.DISPUTE_UNANSWERED, step_kind=DisputeStep.Kind.UNANSWERED,
        step_by=DisputeStep.By.SYSTEM, step_text=f"{why}, so it is resolved in your favour", why=why,
        claim={"partner_verdict": "", "respond_by__lte": now})


def disputes_resolve_unanswered(*, now: datetime | None = None, member_id: int | None = None) -> int:
    """Resolve every dispute (of ``member_id``, if given) whose partner left it unanswered past
    ``respond_by``, each in its own transaction. Returns how many were resolved. One indexed
    query when none is due (the embedded mode calls it when disputes are read)."""
    now = now or timezone.now()
    due = _unanswered(now)
    if member_id is not None:
        due = due.filter(member_id=member_id)
    done = 0
    for pk in list(due.order_by("respond_by", "id").values_list("pk", flat=True)):
        try:
            dispute_resolve_unanswered(dispute_id=pk, now=now)
            done += 1
        except (DomainError, Dispute.DoesNotExist):  # answered or decided meanwhile: nothing to do
            continue
    return done
