"""Turns a member's score state into what the API and the dashboard show."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from scoring import selectors, services
from scoring.model import band_for, reasons
from scoring.models import ScoreChange

FACTOR_LABELS = {
    "card_repayment_timeliness": "Card repayments on time",
    "bill_payment_timeliness": "Bills paid on time",
    "purchase_volume": "Purchase volume",
    "profile_completeness": "Profile completeness",
}


def score_overview(*, member: User) -> dict[str, Any]:
    """``{score, band, base, social, factors: [...], reasons: [...]}`` (DESIGN.md §8)."""
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
        "reasons": [
            {"code": r.code, "factor": r.factor, "points_lost": round(r.points_lost, 2), "text": r.text,
             "hint": r.hint}
            for r in reasons(result)
        ],
    }


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
