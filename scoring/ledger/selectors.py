"""Reads: a member's facts for the model, their score state, ledger and events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from accounts.members.models import User
from accounts.members.selectors import profile_completeness
from scoring.ingestion.models import Event
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.model import FACTOR_NAMES, PARAMS, BaseResult, EventFact, FactorResult, ProfileFacts
from scoring.model.factors import (
    BILL_PAYMENT_TIMELINESS,
    CARD_REPAYMENT_TIMELINESS,
    PROFILE_COMPLETENESS,
    PURCHASE_VOLUME,
)


def event_fact(event: Event) -> EventFact:
    """The model's view of an event row (``partner`` must be loaded for the label)."""
    return EventFact(
        kind=event.kind,
        occurred_at=event.occurred_at,
        amount=event.amount,
        due_date=event.due_date,
        paid_date=event.paid_date,
        missed=event.missed,
        amount_paid=event.amount_paid,
        ref=str(event.pk),
        label=event.partner.name,
    )


def profile_facts(*, member: User) -> ProfileFacts:
    c = profile_completeness(user=member)
    return ProfileFacts(
        email_verified=c.email_verified, phone=c.phone, city=c.city, avatar=c.avatar, bio=c.bio
    )


def scored_events(*, member_id: int) -> QuerySet[Event]:
    return Event.objects.filter(member_id=member_id, status=Event.Status.SCORED).select_related("partner")


def member_events(*, member: User) -> QuerySet[Event]:
    return Event.objects.filter(member=member).select_related("partner").order_by("-occurred_at", "-id")


def score_state(*, member: User) -> ScoreState | None:
    return ScoreState.objects.filter(member=member).first()


def ledger(*, member: User) -> QuerySet[ScoreChange]:
    return ScoreChange.objects.filter(member=member).select_related("event", "event__partner")


def facts_of(events: Iterable[Event]) -> list[EventFact]:
    return [event_fact(e) for e in events]


def factor_weights() -> dict[str, float]:
    return {
        CARD_REPAYMENT_TIMELINESS: PARAMS.weight_card_repayment,
        BILL_PAYMENT_TIMELINESS: PARAMS.weight_bill_payment,
        PURCHASE_VOLUME: PARAMS.weight_purchase_volume,
        PROFILE_COMPLETENESS: PARAMS.weight_profile,
    }


def result_from_state(*, state: ScoreState, member: User) -> BaseResult:
    """The model's breakdown of the *stored* score, so what we explain is what we show."""
    weights = factor_weights()
    factors = tuple(
        FactorResult(name=name, weight=weights[name], value=state.factors[name],
                     points=PARAMS.span * weights[name] * state.factors[name])
        for name in FACTOR_NAMES
    )
    return BaseResult(base=state.base, factors=factors, missing_profile=profile_facts(member=member).missing())


def score_history(*, member: User, limit: int = 366) -> list[tuple[datetime, int]]:
    """(when, score) after each change, oldest first (the last ``limit`` changes)."""
    newest_first = ScoreChange.objects.filter(member=member).order_by("-created_at", "-id")
    rows = list(newest_first.values_list("created_at", "new_score")[:limit])
    return list(reversed(rows))
