"""Scoring's sections of a member's data (``accounts.privacy.registry``): the score, payment
events, the ledger, partner connections, disputes, flags made and moderators' decisions; and
what account deletion does to them (see ``accounts.privacy.services.KEPT``: events and the ledger
stay, anonymised)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import Value
from django.db.models.functions import Concat, Substr

from accounts.members.models import User
from accounts.privacy import registry
from accounts.privacy.registry import Deletion, Section
from scoring.contagion.models import ContagionEdge, ContagionNode
from scoring.ingestion.models import Event, IdempotencyRecord, PartnerConsent
from scoring.ingestion.signals import consent_revoked
from scoring.ledger import selectors
from scoring.ledger.models import FollowUp, ScoreChange, ScoreState
from scoring.ledger.services import member_rescore
from scoring.model import band_for
from scoring.moderation.models import AuditEntry, Dispute, DisputeStep, Flag


def score_export(member: User) -> dict[str, Any] | None:
    """None until the member is first scored."""
    state = selectors.score_state(member=member)
    if state is None:
        return None
    return {"score": state.score, "band": band_for(state.score), "base": state.base, "social": state.social,
            "factors": state.factors, "updated_at": state.updated_at}


def events_export(member: User) -> list[dict[str, Any]]:
    return [
        {"id": e.pk, "partner": e.partner.slug, "kind": e.kind, "amount": e.amount, "amount_paid": e.amount_paid,
         "currency": e.currency, "merchant_category": e.merchant_category, "occurred_at": e.occurred_at,
         "due_date": e.due_date, "paid_date": e.paid_date, "missed": e.missed, "status": e.status,
         "external_id": e.external_id, "received_at": e.received_at}
        for e in selectors.member_events(member=member)
    ]


def ledger_export(member: User) -> list[dict[str, Any]]:
    return [
        {"at": c.created_at, "cause": c.cause, "event": c.event_id, "old_score": c.old_score,
         "new_score": c.new_score, "old_base": c.old_base, "new_base": c.new_base, "old_social": c.old_social,
         "new_social": c.new_social, "explanation": c.explanation}
        for c in ScoreChange.objects.filter(member=member).order_by("created_at", "id")
    ]


def partners_export(member: User) -> list[dict[str, Any]]:
    return [{"partner": c.partner.slug, "connected_at": c.created_at, "disconnected_at": c.revoked_at}
            for c in PartnerConsent.objects.filter(member=member).select_related("partner")]


def disputes_export(member: User) -> list[dict[str, Any]]:
    """The member's disputes, each with the partner's answer and every step as the member saw it."""
    return [{"id": d.pk, "event": d.event_id, "reason": d.reason, "status": d.status,
             "created_at": d.created_at, "resolved_at": d.resolved_at, "resolution": d.resolution,
             "respond_by": d.respond_by, "partner_verdict": d.partner_verdict, "partner_note": d.partner_note,
             "partner_answered_at": d.partner_answered_at,
             "timeline": [{"at": s.created_at, "kind": s.kind, "by": s.by, "text": s.text} for s in d.steps.all()]}
            for d in Dispute.objects.filter(member=member).prefetch_related("steps")]


def flags_made_export(member: User) -> list[dict[str, Any]]:
    """The flags the member raised; other members' flags about them stay those members' own."""
    return [{"username": f.target.username, "reason": f.reason, "status": f.status, "created_at": f.created_at}
            for f in Flag.objects.filter(reporter=member).select_related("target")]


def moderation_export(member: User) -> list[dict[str, Any]]:
    """Moderators' decisions about the member, without the moderators' identities; CSV exports
    (a moderator's own action, merely listing the member) are left out."""
    return [{"at": a.created_at, "action": a.action, "reason": a.reason}
            for a in AuditEntry.objects.filter(member=member).exclude(action=AuditEntry.Action.CSV_EXPORT)]


def _anonymous_reference(partner_id: int, external_id: str) -> str:
    digest = hashlib.sha256(f"{partner_id}:{external_id}".encode()).hexdigest()
    return f"deleted:{digest[:64]}"


def scoring_forget(member: User, deletion: Deletion) -> None:
    """Account deletion: no partner may send events about the member any more (each connected one is
    told, like a disconnection); their events stay,
    anonymised (the partner's reference one-way hashed, no merchant category); former friends'
    ledger lines that named them say "A former friend"; and the score is recomputed without the
    profile that accounts removed before this step ran."""
    live = list(PartnerConsent.objects.filter(member=member, revoked_at__isnull=True).values_list("pk", "partner_id"))
    PartnerConsent.objects.filter(pk__in=[pk for pk, _ in live]).update(revoked_at=deletion.at)
    for _, partner_id in live:
        # Each partner hears of it as of any disconnection (consent.revoked, in this transaction),
        # by the name it knew the member by.
        consent_revoked.send(sender=PartnerConsent, member_id=member.pk, username=deletion.former_username,
                             partner_id=partner_id, revoked_at=deletion.at)
    for event in Event.objects.filter(member=member).only("pk", "partner_id", "external_id"):
        if not event.external_id.startswith("deleted:"):
            Event.objects.filter(pk=event.pk).update(
                external_id=_anonymous_reference(event.partner_id, event.external_id), merchant_category=""
            )
    prefix = f"{deletion.former_username}: "
    ScoreChange.objects.filter(cause=ScoreChange.Cause.CONTAGION, explanation__startswith=prefix).exclude(
        member=member
    ).update(explanation=Concat(Value("A former friend: "), Substr("explanation", len(prefix) + 1)))
    # The profile is gone, so its completeness too: the stored score stays what a rebuild computes.
    member_rescore(member_id=member.pk, cause=ScoreChange.Cause.PROFILE, explanation="Account deleted, profile removed")


def register_sections() -> None:
    registry.register(
        # Deletion's part for all of scoring hangs on the first section.
        Section("score", (ScoreState,), score_export, scoring_forget),
        Section("events", (Event,), events_export),
        Section("ledger", (ScoreChange,), ledger_export),
        Section("partners", (PartnerConsent,), partners_export),
        Section("disputes", (Dispute, DisputeStep), disputes_export),
        Section("flags_made", (Flag,), flags_made_export),
        Section("moderation", (AuditEntry,), moderation_export),
    )
    registry.leave_out(ContagionNode, why="the contagion engine's working state, derived from scores and "
                                          "friendships (exported as such) and rebuilt from them")
    registry.leave_out(ContagionEdge, why="the friendships the contagion engine has folded in, derived from "
                                          "the friendships exported by social")
    registry.leave_out(IdempotencyRecord, why="a partner's request keys and our answers to them: no member "
                                              "column; the events they carried are exported")
    registry.leave_out(FollowUp, why="the ledger's outbox of work owed after a score change, cleared within "
                                     "seconds; the score changes themselves are exported (the ledger)")
