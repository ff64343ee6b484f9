"""What a partner may read about the events it sent (DESIGN.md §8 "Partner status and webhooks").

``event_partner_status`` names an event's state as the partner sees it; ``event_partner_view`` is
the representation the status API answers with and the webhooks carry: ``{external_id, member,
kind, status, received_at, scored_at, dispute}`` — what the partner sent and what became of it,
never a score, a factor or anything else of the member's (built in ``scoring.moderation.furnisher``,
which moderation's services use for the webhooks). ``partner_events_page`` pages through a
partner's own events (keyset on ``(received_at, id)``, oldest first: new events join the end, so a
partner can follow with its last cursor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from config.kernel.errors import NotFound
from config.kernel.keyset import InvalidCursor, cursor_decode, cursor_encode
from scoring.ingestion.models import Event, Partner
from scoring.moderation.furnisher import (
    PartnerStatus,
    dispute_partner_view,
    event_partner_status,
    event_partner_view,
    events_partner_views,
)
from scoring.moderation.models import Dispute

__all__ = ["EventsPage", "InvalidCursor", "PartnerStatus", "dispute_partner_view", "event_partner_status",
           "event_partner_view", "events_partner_views", "partner_event", "partner_events_page"]


def partner_event(*, partner: Partner, external_id: str) -> Event:
    """``partner``'s event ``external_id`` (member loaded); ``NotFound`` for an unknown id and for
    another partner's event alike."""
    event = Event.objects.filter(partner=partner, external_id=external_id).select_related("member").first()
    if event is None:
        raise NotFound()
    return event



@dataclass(frozen=True)
class EventsPage:
    items: list[Event]
    next_cursor: str | None



def _with_status(rows: QuerySet[Event], status: str) -> QuerySet[Event]:
    """``rows`` whose ``event_partner_status`` is ``status`` (the same rules, in SQL)."""
    open_dispute = Exists(Dispute.objects.filter(event_id=OuterRef("pk"), status=Dispute.Status.OPEN))
    if status == PartnerStatus.REVERSED:
        return rows.filter(status=Event.Status.REVERSED)
    rows = rows.exclude(status=Event.Status.REVERSED).annotate(disputed=open_dispute)
    if status == PartnerStatus.DISPUTED:
        return rows.filter(disputed=True)
    rows = rows.filter(disputed=False)
    if status in (PartnerStatus.PENDING, PartnerStatus.FAILED):
        return rows.filter(status=status)
    return rows.filter(Q(status=Event.Status.SCORED),
                       corrected_at__isnull=status == PartnerStatus.SCORED)


def partner_events_page(*, partner: Partner, status: str = "", since: datetime | None = None,
                        cursor: str = "", limit: int = 50) -> EventsPage:
    """``partner``'s events (only those with ``status``, received at or after ``since``), oldest
    first, ``limit`` after ``cursor``. ``InvalidCursor`` on a cursor this API did not give out."""
    rows = Event.objects.filter(partner=partner)
    if status:
        rows = _with_status(rows, status)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    if cursor:
        at, pk = cursor_decode(cursor)
        rows = rows.filter(Q(received_at__gt=at) | Q(received_at=at, pk__gt=pk))
    items = list(rows.select_related("member").order_by("received_at", "id")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return EventsPage(items=items, next_cursor=cursor_encode(items[-1].received_at, items[-1].pk) if more else None)
