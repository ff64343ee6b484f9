"""The furnishing partner's side of a dispute, below the partner API so that moderation's
services can use it: how an event and its dispute look to the partner that sent it
(``event_partner_status``, ``event_partner_view`` on ``scoring.webhooks.payloads.event_data``:
what the status API answers and the webhooks carry — never a score, nor the member's or a
moderator's words), the dispute's timeline that the member reads (``dispute_step``), and the
webhooks a dispute sends (``partner_webhook``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from scoring.ingestion.models import Event
from scoring.moderation.models import Dispute, DisputeStep
from scoring.webhooks.models import WebhookType
from scoring.webhooks.outbox import webhook_record
from scoring.webhooks.payloads import event_data, iso


class PartnerStatus:
    """An event's status as its partner sees it (``event_partner_status``)."""

    PENDING = "pending"
    SCORED = "scored"
    FAILED = "failed"
    DISPUTED = "disputed"
    REVERSED = "reversed"
    CORRECTED = "corrected"

    ALL = (PENDING, SCORED, FAILED, DISPUTED, REVERSED, CORRECTED)


def event_partner_status(event: Event, *, disputed: bool | None = None) -> str:
    """``reversed`` once it no longer counts; else ``disputed`` while a dispute of it is open; else
    ``pending`` or ``failed`` while it is not scored; else ``corrected`` if its facts were corrected
    (by a moderator or by the partner's answer to a dispute), else ``scored``. ``disputed``: whether
    a dispute is open, when the caller knows (one query otherwise)."""
    if event.status == Event.Status.REVERSED:
        return PartnerStatus.REVERSED
    if disputed is None:
        disputed = Dispute.objects.filter(event_id=event.pk, status=Dispute.Status.OPEN).exists()
    if disputed:
        return PartnerStatus.DISPUTED
    if event.status in (Event.Status.PENDING, Event.Status.FAILED):
        return str(event.status)
    return PartnerStatus.CORRECTED if event.corrected_at is not None else PartnerStatus.SCORED


def dispute_partner_view(dispute: Dispute | None) -> dict[str, Any] | None:
    """A dispute as the furnishing partner sees it: when it was opened, where it stands, by when
    the partner must answer and what it answered — never the member's reason (their words are for
    the moderators) nor a moderator's."""
    if dispute is None:
        return None
    return {"opened_at": iso(dispute.created_at), "status": dispute.status, "respond_by": iso(dispute.respond_by),
            "verdict": dispute.partner_verdict or None, "answered_at": iso(dispute.partner_answered_at),
            "resolved_at": iso(dispute.resolved_at)}


def disputes_shown(event_ids: Sequence[int], *, steps: bool = False) -> dict[int, Dispute]:
    """Each event's dispute as the member and its partner see it: the open one if any (at most
    one; a reopened older dispute can be open while a newer one is closed), else the latest — the
    same rule as the status filter of the partners' event list. One query (two with ``steps``:
    each dispute's timeline prefetched)."""
    rows = Dispute.objects.filter(event_id__in=list(event_ids)).order_by("created_at", "id")
    latest: dict[int, Dispute] = {}
    for d in rows.prefetch_related("steps") if steps else rows:
        if d.event_id not in latest or latest[d.event_id].status != Dispute.Status.OPEN:
            latest[d.event_id] = d
    return latest


_UNSET: Any = object()


def event_partner_view(event: Event, *, dispute: Dispute | None = _UNSET) -> dict[str, Any]:
    """The event as its partner reads it (status API, webhooks): its real status and its latest
    dispute (``dispute``: that dispute, when the caller loaded it; None: there is none)."""
    if dispute is _UNSET:
        dispute = disputes_shown([event.pk]).get(event.pk)
    is_open = dispute is not None and dispute.status == Dispute.Status.OPEN
    return event_data(event, status=event_partner_status(event, disputed=is_open),
                      dispute=dispute_partner_view(dispute))


def events_partner_views(events: Iterable[Event]) -> list[dict[str, Any]]:
    """``event_partner_view`` of each event, their disputes read in one query."""
    events = list(events)
    latest = disputes_shown([e.pk for e in events])
    return [event_partner_view(e, dispute=latest.get(e.pk)) for e in events]


def dispute_step(*, dispute: Dispute, kind: str, by: str, text: str, at: datetime | None = None) -> DisputeStep:
    """Append one step to the dispute's timeline (inside the transaction that took the step), at
    ``at`` (default: now)."""
    limit = DisputeStep._meta.get_field("text").max_length
    return DisputeStep.objects.create(dispute=dispute, kind=kind, by=by, text=text[:limit],
                                      created_at=at or timezone.now())


def _day(moment: Any) -> str:
    return f"{moment:%-d %B %Y}"


def partner_webhook(*, type: str, event: Event, dispute: Dispute | None = _UNSET) -> None:
    """Tell the partner that furnished ``event`` (``type``: ``event.disputed``, ``dispute.resolved``,
    or ``event.scored`` for a reinstated event), inside the transaction of the cause, with the
    event as the partner sees it after the change (JSON-safe; ``dispute`` as for
    ``event_partner_view``). Nothing is written for a partner without an endpoint subscribed to
    ``type``."""
    webhook_record(partner_id=event.partner_id, type=type, data=event_partner_view(event, dispute=dispute))


def dispute_opened(*, dispute: Dispute) -> None:
    """A new dispute's first steps: opened by the member, sent to the partner that furnished the
    event (``event.disputed``), which must answer by ``respond_by``."""
    event = dispute.event
    dispute_step(dispute=dispute, kind=DisputeStep.Kind.OPENED, by=DisputeStep.By.MEMBER,
                 text=f"You disputed this event: “{dispute.reason}”", at=dispute.created_at)
    if dispute.respond_by is not None:
        dispute_step(dispute=dispute, kind=DisputeStep.Kind.SENT, by=DisputeStep.By.SYSTEM, at=dispute.created_at,
                     text=f"Sent to {event.partner.name}, which reported it, to check. It must answer by "
                          f"{_day(dispute.respond_by)}; if it does not, the event is removed in your favour.")
    partner_webhook(type=WebhookType.EVENT_DISPUTED, event=event, dispute=dispute)


def dispute_resolved(*, dispute: Dispute, kind: str, by: str, text: str) -> None:
    """A dispute was resolved (accepted, rejected or corrected; ``dispute`` as it is now, its event
    with its new status): the step on the timeline, ``dispute.resolved`` for the partner."""
    dispute_step(dispute=dispute, kind=kind, by=by, text=text)
    partner_webhook(type=WebhookType.DISPUTE_RESOLVED, event=dispute.event, dispute=dispute)
