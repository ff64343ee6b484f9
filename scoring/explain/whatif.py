"""The what-if simulator: the real model on a copy of the member's events. Never writes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from accounts.members.models import User
from config.kernel.serializers import StrictSerializer
from scoring.ingestion.errors import Code
from scoring.ingestion.models import Event
from scoring.ledger import selectors
from scoring.ledger.models import scoring_date
from scoring.ledger.rows import event_explanation
from scoring.model import EventFact, band_for, compute_base, total_score

#: The latest a hypothetical payment may be (days; ten years).
MAX_DAYS_LATE = 3650


class WhatIfSerializer(StrictSerializer):
    """A hypothetical event: ``days_late`` (0 = on time) or ``missed`` for bills and cards."""

    kind = serializers.ChoiceField(choices=Event.Kind.values)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    days_late = serializers.IntegerField(min_value=0, max_value=MAX_DAYS_LATE, required=False, default=0)
    missed = serializers.BooleanField(required=False, default=False)
    partner_name = serializers.CharField(max_length=60, required=False, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == Event.Kind.PURCHASE and (attrs["days_late"] or attrs["missed"]):
            raise serializers.ValidationError({"days_late": ["Purchases are never late."]}, code=Code.NOT_FOR_KIND)
        if attrs["missed"] and attrs["days_late"]:
            raise serializers.ValidationError({"missed": ["Give days_late or missed, not both."]},
                                              code=Code.PAYMENT_OUTCOME)
        return attrs


def scenario_fact(scenario: dict[str, Any]) -> EventFact:
    now = timezone.now()
    today = now.date()
    if scenario["kind"] == Event.Kind.PURCHASE:
        return EventFact(kind="purchase", occurred_at=now, amount=scenario["amount"], ref="what-if",
                         label=scenario.get("partner_name", ""))
    due = today - timedelta(days=scenario["days_late"])
    return EventFact(
        kind=scenario["kind"], occurred_at=now, amount=scenario["amount"], due_date=due,
        paid_date=None if scenario["missed"] else today, missed=scenario["missed"], ref="what-if",
        label=scenario.get("partner_name", ""),
    )


def what_if(*, member: User, scenario: dict[str, Any]) -> dict[str, Any]:
    state = selectors.score_state(member=member)
    facts = selectors.facts_of(selectors.scored_events(member_id=member.pk))
    profile = selectors.profile_facts(member=member)
    social = state.social if state else 0.0
    # Both today, so the difference is the scenario's alone (the stored score may be a day older).
    today = scoring_date()
    current = compute_base(facts, profile, as_of=today)
    current_score = total_score(current.base, social)
    fact = scenario_fact(scenario)
    simulated = compute_base([*facts, fact], profile, as_of=today)
    simulated_score = total_score(simulated.base, social)
    delta = simulated_score - current_score
    return {
        "current": {"score": current_score, "band": band_for(current_score), "base": round(current.base, 2)},
        "simulated": {
            "score": simulated_score, "band": band_for(simulated_score), "base": round(simulated.base, 2),
            "factors": [{"name": f.name, "value": round(f.value, 4), "points": round(f.points, 2)}
                        for f in simulated.factors],
        },
        "delta": delta,
        "explanation": event_explanation(fact, delta),
    }
