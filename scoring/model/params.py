"""Every constant of the score model, in one frozen object (DESIGN §3): the base score's, and
friend contagion's.

Units: points are score points (the score runs 350–950), days are calendar days, amounts are
in the event's currency (EUR for Credo; the UCI replay converts NT$ to EUR, see
``scoring.demo.uci``), evidence is in units of one on-time payment in full.

The DESIGN fixes the weights, the 350/600 scale, the bands and friend contagion's constants.
The behavioural constants below them (lateness costs, part-payment cost, size shares,
half-lives, priors, evidence scales, purchase saturation) were fitted on the TRAIN split of the
UCI data set (rows with ``ID % 5 != 0``) by

    .venv/bin/python -m scoring.demo.calibrate <CREDO_DATA_DIR>/uci_credit_card.csv

which maximises the train-split AUC of the base for "does not default" minus a penalty for a
scale that breaks its promises (``calibrate.SPREAD``: p5–p95 spans 220+ points, the default rate
falls band by band, a long spotless record reaches 855, missed payments sit in Building, a
newcomer starts in Fair; see ``calibrate``'s docstring) within the product ranges of
``calibrate.SEARCH_SPACE`` (priors 0.48-0.56, so a newcomer sits in Fair; bad evidence keeps a
part remembered for at least a year). Fitted values rounded by hand to two or three significant
digits: train AUC 0.7668; ``manage.py evaluate_scoring`` reports the test split (``ID % 5 == 0``),
which the fit never sees.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoringParams:
    """The constants of ``compute_base`` and friends.  Frozen: a params object is a value."""

    # --- scale and weights (DESIGN §3, fixed by the product, not fitted) -------------------
    score_min: int = 350
    score_max: int = 950
    #: points spread by the four factors: base = score_min + span * Σ wᵢ fᵢ.
    span: float = 600.0
    weight_card_repayment: float = 0.35
    weight_bill_payment: float = 0.35
    weight_purchase_volume: float = 0.15
    weight_profile: float = 0.15
    #: (lowest score of the band, label), ascending; scores below the first are "Building".
    bands: tuple[tuple[int, str], ...] = (
        (550, "Fair"),
        (600, "Good"),
        (650, "Very good"),
        (700, "Excellent"),
    )
    lowest_band: str = "Building"

    # --- evidence of each card repayment or bill payment (``factors.event_evidence``) --------
    # Units: one payment on time and in full of at least ``amount_full`` is worth
    # ``evidence_on_time`` (fixed at 1, the unit the other constants are fitted in). A late
    # payment takes away the cost of its lateness bucket; the costs never fall with days late,
    # and missed costs as much as 90+ days late (DESIGN §3). UCI reports lateness in whole months
    # (replayed as 30, 60, 90+ days), so 1-29 days late is not fitted: it costs half of 30-59.
    evidence_on_time: float = 1.0
    cost_late_1_29: float = 0.86
    cost_late_30_59: float = 1.72
    cost_late_60_89: float = 16.3
    cost_late_90_plus: float = 16.3
    #: A payment of only part of the amount due never earns the on-time gain and takes away a
    #: further cost_partial * (1 - fraction paid) ** partial_exponent.
    cost_partial: float = 2.8
    partial_exponent: float = 3.0
    #: Size: a payment of ``amount_full`` or more (EUR) carries its whole evidence, a smaller one
    #: a share rising linearly from ``gain_floor`` (on time) or ``cost_floor`` (late) at 0.00.
    amount_full: float = 225.0
    gain_floor: float = 0.01
    cost_floor: float = 0.66

    # --- ageing and the shape of the two timeliness factors --------------------------------
    #: Evidence fades with calendar age on the scoring date: good evidence halves every
    #: ``positive_half_life_days``; bad evidence is two parts, ``negative_fast_share`` of it
    #: halving every ``negative_fast_half_life_days`` and the rest every
    #: ``negative_half_life_days``.
    positive_half_life_days: float = 1460.0
    negative_fast_share: float = 0.91
    negative_fast_half_life_days: float = 15.0
    negative_half_life_days: float = 1120.0
    #: Factor = logistic(logit(prior) + scale * Σ aged evidence): with no evidence the factor is
    #: its prior (a new member sits in Fair), evidence moves it on the log-odds scale.
    card_prior: float = 0.49
    card_evidence_scale: float = 0.187
    bill_prior: float = 0.48
    bill_evidence_scale: float = 0.123

    # --- purchase volume -------------------------------------------------------------------
    #: Recent spend = Σ amount * 2 ** (-age_days / half-life), in currency units, ages in days
    #: before the scoring date.
    purchase_half_life_days: float = 30.0
    #: Factor = spend^shape / (spend^shape + half_saturation^shape): 0 with no purchases,
    #: 0.5 at `purchase_half_saturation` of recent spend, → 1 as spend grows.
    #: Fitted on UCI spend converted to EUR (recent spend: median ~170 EUR, 90th percentile
    #: ~1,000 EUR): 0.23 at 50 EUR, 0.43 at 140 EUR, half at 195 EUR, 0.73 at 600 EUR, 0.81 at
    #: 1,000 EUR: a rise over the whole realistic range, never a step.
    purchase_half_saturation: float = 195.0
    purchase_shape: float = 0.87

    # --- friend contagion (DESIGN §3, fixed by the product; ``scoring.contagion.engine``) -----
    #: A member's deviation is d = base − this (points): the base a member neither lifts nor
    #: pulls down their friends with.
    contagion_neutral_base: float = 650.0
    #: α: the share of the friends' mean (d + s) a member's social signal s takes in, in [0, 1).
    contagion_alpha: float = 0.5
    #: λ: social points per point of signal; the points are clamped to ±``contagion_cap``.
    contagion_lambda: float = 0.25
    contagion_cap: float = 60.0
    #: ε: the residual threshold (deviation points). Once every |r| ≤ ε the shown points are off
    #: by at most λ·ε/(1 − α) = 0.05 points.
    contagion_eps: float = 0.1

    def lateness_costs(self) -> tuple[float, float, float, float, float]:
        """Evidence taken away per lateness bucket: on time (0), 1-29, 30-59, 60-89, 90+ days
        late / missed."""
        return (
            0.0,
            self.cost_late_1_29,
            self.cost_late_30_59,
            self.cost_late_60_89,
            self.cost_late_90_plus,
        )


#: The parameters the app runs on.
PARAMS = ScoringParams()
