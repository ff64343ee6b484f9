"""Credo's score model (DESIGN §3): pure Python, no Django, every constant in ``params`` (the
base score's and friend contagion's).

The services call ``compute_base`` with plain facts; ``total_score`` adds the social points;
``reasons`` and ``describe_event`` explain the result.
"""

from scoring.model.explain import Reason, ReasonCode, describe_ageing, describe_event, reasons
from scoring.model.factors import (
    BILL_PAYMENT,
    CARD_REPAYMENT,
    EVENT_KINDS,
    FACTOR_NAMES,
    PURCHASE,
    BaseResult,
    EventFact,
    FactorResult,
    ProfileFacts,
    band_bounds,
    band_for,
    compute_base,
    total_score,
)
from scoring.model.params import PARAMS, ScoringParams

__all__ = [
    "BILL_PAYMENT",
    "CARD_REPAYMENT",
    "EVENT_KINDS",
    "FACTOR_NAMES",
    "PARAMS",
    "PURCHASE",
    "BaseResult",
    "EventFact",
    "FactorResult",
    "ProfileFacts",
    "Reason",
    "ReasonCode",
    "ScoringParams",
    "band_bounds",
    "band_for",
    "compute_base",
    "describe_ageing",
    "describe_event",
    "reasons",
    "total_score",
]
