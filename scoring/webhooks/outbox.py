"""Recording webhooks: the outbox row is written in the transaction of its cause.

``webhook_record`` (one message) and ``webhooks_record`` (many, for the batch scorer: one read
and one insert whatever their number) write a ``WebhookMessage`` only for a partner whose
endpoint is enabled and subscribed to the type — otherwise one indexed read and nothing else —
and ask for delivery after the commit (``config.kernel.after_commit``). A rolled-back cause
leaves no message; a delivery lost after the commit (broker down, worker killed) is sent by the
sweeper (``delivery.webhooks_sweep``), so every committed message goes out at least once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from config.kernel.after_commit import enqueue_on_commit
from scoring.webhooks.models import WebhookEndpoint, WebhookMessage, WebhookType
from scoring.webhooks.payloads import event_data

if TYPE_CHECKING:  # for annotations only
    from accounts.members.models import User
    from scoring.ingestion.models import Event

#: The task that delivers a partner's outbox (``scoring.webhooks.tasks``).
DELIVER_TASK = "scoring.webhooks.tasks.webhooks_deliver"
TYPES = frozenset(WebhookType.values)


@dataclass(frozen=True)
class Record:
    """One message to record: for ``partner_id``, of ``type``, with ``data`` (``payloads``)."""

    partner_id: int
    type: str
    data: dict[str, Any]


def new_msg_id() -> str:
    """A ``webhook-id``: unique, the same on every attempt of one message."""
    return "msg_" + uuid.uuid4().hex


def subscriptions(*, partner_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """``{partner: subscribed types}`` of these partners' endpoints (one query), disabled ones too:
    their messages wait in the outbox until the endpoint is enabled again (at least once, even
    across an outage that outlived the retries)."""
    return {partner_id: frozenset(types) for partner_id, types in WebhookEndpoint.objects.filter(
        partner_id__in=sorted(set(partner_ids))).values_list("partner_id", "types")}


def webhook_record(*, partner_id: int, type: str, data: dict[str, Any]) -> None:
    """Inside the transaction of the cause: record a ``type`` message for the partner if its
    endpoint is enabled and subscribed to it, and deliver after the commit."""
    webhooks_record(records=[Record(partner_id, type, data)])


def webhooks_record(*, records: Sequence[Record], subscribed: Mapping[int, frozenset[str]] | None = None) -> int:
    """``webhook_record`` for many messages: one read of the partners' subscriptions (none when
    the caller read them: ``subscribed``), one insert, one delivery per partner after the commit.
    Messages keep the order of ``records`` (per partner, the order of delivery). Returns how many
    were written."""
    unknown = {r.type for r in records} - TYPES
    if unknown:
        raise ValueError(f"unknown webhook types: {sorted(unknown)}")
    if not records:
        return 0
    if subscribed is None:
        subscribed = subscriptions(partner_ids=(r.partner_id for r in records))
    wanted = [r for r in records if r.type in subscribed.get(r.partner_id, ())]
    if not wanted:
        return 0
    now = timezone.now()
    WebhookMessage.objects.bulk_create([
        WebhookMessage(partner_id=r.partner_id, msg_id=new_msg_id(), type=str(r.type), data=r.data, created_at=now,
                       next_attempt_at=now)
        for r in wanted])
    for partner_id in sorted({r.partner_id for r in wanted}):
        enqueue_on_commit(DELIVER_TASK, partner_id)
    return len(wanted)


def events_record(*, events: Sequence[Event], type: str, status: str,
                  members: Mapping[int, User] | None = None) -> int:
    """One ``type`` message per event whose partner subscribes to it, its data ``event_data``
    with ``status``, in the order of ``events``: one read, and one insert if any. Nothing is
    built for partners that do not listen (the batch scorer calls this for every batch).
    ``members``: the events' members by id, when loaded already (their usernames are sent)."""
    if not events:
        return 0
    subscribed = subscriptions(partner_ids={e.partner_id for e in events})
    records = []
    for event in events:
        if type in subscribed.get(event.partner_id, ()):
            if members is not None and event.member_id in members:
                event.member = members[event.member_id]
            records.append(Record(event.partner_id, type, event_data(event, status=status)))
    return webhooks_record(records=records, subscribed=subscribed) if records else 0
