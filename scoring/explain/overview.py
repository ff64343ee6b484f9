"""Turns a member's score state into what the API and the dashboard show."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from accounts.members.models import User
from scoring.contagion.services import contagion_breakdown
from scoring.ledger import selectors, services
from scoring.ledger.models import ScoreChange, scoring_date
from scoring.model import BaseResult, band_for, compute_base, reasons

FACTOR_LABELS = {
    "card_repayment_timeliness": "Card repayments on time",
    "bill_payment_timeliness": "Bills paid on time",
    "purchase_volume": "Purchase volume",
    "profile_completeness": "Profile completeness",
}


def score_overview(*, member: User) -> dict[str, Any]:
    """``{score, band, base, social, factors: [...], reasons: [...]}`` (DESIGN.md §8), plus
    ``contagion``: each friend's share of the social points, split into their own behaviour and
    their friends' (points before the ±C cap, ``ScoringParams.contagion_cap``)."""
    state = selectors.score_state(member=member) or services.member_state_ensure(member=member)
    result = selectors.result_from_state(state=state, member=member)
    return {
        "score": state.score,
        "band": band_for(state.score),
        "base": round(state.base, 2),
        "social": round(state.social, 2),
        "factors": [
            {
                "name": f.name,
                "label": FACTOR_LABELS[f.name],
                "weight": f.weight,
                "value": round(f.value, 4),
                "points": round(f.points, 2),
                "max_points": round(f.max_points(), 2),
            }
            for f in result.factors
        ],
        "contagion": [
            {"username": c.username, "own": round(c.own, 2), "friends": round(c.friends, 2),
             "total": round(c.total, 2)}
            for c in contagion_breakdown(member=member)
        ],
        "reasons": [
            {"code": r.code, "factor": r.factor, "points_lost": round(r.points_lost, 2), "text": r.text,
             "hint": r.hint}
            for r in reasons(_with_event_counts(result, member))
        ],
    }


def _with_event_counts(result: BaseResult, member: User) -> BaseResult:
    """The stored breakdown, with how many events fed each factor and what late payments still
    weigh (the reasons' wording uses them: "no payments on file yet" reads differently from
    "paid late")."""
    state = selectors.score_state(member=member)
    as_of = state.as_of if state is not None else scoring_date()
    counted = {f.name: f for f in compute_base(
        selectors.facts_of(selectors.scored_events(member_id=member.pk)), selectors.profile_facts(member=member),
        as_of=as_of,
    ).factors}
    return replace(result, factors=tuple(
        replace(f, events=counted[f.name].events, negative=counted[f.name].negative) if f.name in counted else f
        for f in result.factors))


def change_representation(change: ScoreChange) -> dict[str, Any]:
    return {
        "id": change.pk,
        "at": change.created_at,
        "cause": change.cause,
        "event": change.event_id,
        "old_score": change.old_score,
        "new_score": change.new_score,
        "delta": change.delta,
        "old_factors": change.old_factors,
        "new_factors": change.new_factors,
        "explanation": change.explanation,
    }
