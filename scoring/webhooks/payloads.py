"""What a webhook's ``data`` says: only what the partner sent or may know of its own events
(DESIGN.md §8) — never a member's score, band or anything another partner sent.

JSON-safe dicts (the outbox stores them as they will be sent); times in ISO 8601, UTC, with a
``Z`` as DRF writes them, so a message reads like the API's answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only
    from scoring.ingestion.models import Event


def iso(moment: datetime | None) -> str | None:
    """``moment`` as DRF's ``DateTimeField`` writes it (UTC ends in ``Z``), or None."""
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def event_data(event: Event, *, status: str, dispute: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{external_id, member, kind, status, received_at, scored_at, dispute}`` of one event, as
    its partner sees it. ``status``: pending|scored|failed|disputed|reversed|corrected (the
    partner's view, which may differ from ``Event.status``); ``dispute``: null or
    ``{opened_at, status, respond_by}``, already JSON-safe. Reads ``event.member`` (select it
    with the event, or set it, on a hot path)."""
    return {
        "external_id": event.external_id,
        "member": event.member.username,
        "kind": event.kind,
        "status": status,
        "received_at": iso(event.received_at),
        "scored_at": iso(event.scored_at),
        "dispute": dispute,
    }


def consent_data(*, username: str, revoked_at: datetime) -> dict[str, Any]:
    """``consent.revoked``: the member stopped the partner from sending their events."""
    return {"member": username, "revoked_at": iso(revoked_at)}
