"""Fit the behavioural constants of ``ScoringParams`` on the UCI TRAIN split.

    .venv/bin/python -m scoring.demo.calibrate <CREDO_DATA_DIR>/uci_credit_card.csv

prints the fitted constants (paste them into ``params.py``), their train-split AUC, the train
split's band distribution and default rate per band, and the three model members of
``anchors``. It never scores the test split: that is ``manage.py evaluate_scoring``'s job.

How: every train row is replayed through ``scoring.demo.uci.row_events`` once and flattened into
numpy arrays (lateness bucket, paid fraction, amount, age in days on ``uci.AS_OF`` of each
event). ``score_arrays`` is a vectorised twin of ``compute_base`` over those arrays, so one
evaluation of a candidate parameter set takes milliseconds; ``check_twin`` asserts it agrees
with ``compute_base`` on every row. The search is a coordinate descent over bounded, transformed
constants that keeps the lateness costs ordered (30-59 ≤ 60-89 ≤ 90+), with restarts, the fixed
DESIGN weights untouched.

What it maximises: the train-split AUC of the base for "does not default" MINUS a penalty for a
scale that breaks its promises (``spread_penalty``, target ``SPREAD``): p5–p95 of the scores
spans at least 220 points; the top band holds 15-45 % of the split and every band at least 2 %;
the default rate falls band by band; a long spotless record reaches 855, a record of missed
payments stays in Building and a newcomer with an empty profile lands in Fair (``anchors``).
AUC alone does not care where the scores sit: fitted on AUC alone, the constants squeezed the
split into 612-729 with 70 % in Excellent and a spotless record at 732. The costs are steep, so
the fit is in effect "the best AUC that keeps the scale's promises".
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from scipy.stats import rankdata

from scoring.demo.uci import AS_OF, UCI_PROFILE, UciRow, is_test, load_rows, row_events
from scoring.model.factors import (
    BILL_PAYMENT,
    CARD_REPAYMENT,
    PURCHASE,
    EventFact,
    ProfileFacts,
    age_days,
    compute_base,
    days_late,
    lateness_bucket,
    paid_fraction,
)
from scoring.model.params import PARAMS, ScoringParams

_SLOTS = 5  # at most one event of each kind per repayment month (May..September)


@dataclass(frozen=True)
class ReplayArrays:
    """Events of N rows as (N, 5) arrays; ``*_mask`` marks the slots that hold an event.

    Ages are whole days before the scoring date (``uci.AS_OF``), as ``factors.age_days``.
    """

    ids: np.ndarray
    default: np.ndarray
    card_bucket: np.ndarray
    card_fraction: np.ndarray
    card_amount: np.ndarray
    card_age: np.ndarray
    card_mask: np.ndarray
    bill_bucket: np.ndarray
    bill_fraction: np.ndarray
    bill_amount: np.ndarray
    bill_age: np.ndarray
    bill_mask: np.ndarray
    purchase_amount: np.ndarray
    purchase_age: np.ndarray
    purchase_mask: np.ndarray


def build_arrays(rows: Sequence[UciRow]) -> ReplayArrays:
    """Replay ``rows`` through ``row_events`` and flatten their events into arrays."""
    n = len(rows)

    def zeros() -> np.ndarray:
        return np.zeros((n, _SLOTS))

    names = [
        "card_bucket",
        "card_fraction",
        "card_amount",
        "card_age",
        "card_mask",
        "bill_bucket",
        "bill_fraction",
        "bill_amount",
        "bill_age",
        "bill_mask",
        "purchase_amount",
        "purchase_age",
        "purchase_mask",
    ]
    out = {name: zeros() for name in names}
    for r, row in enumerate(rows):
        events = row_events(row)
        for kind, prefix in ((CARD_REPAYMENT, "card"), (BILL_PAYMENT, "bill")):
            stream: list[EventFact] = [e for e in events if e.kind == kind]
            for slot, e in enumerate(stream):
                out[f"{prefix}_bucket"][r, slot] = lateness_bucket(days_late(e))
                out[f"{prefix}_fraction"][r, slot] = paid_fraction(e)
                out[f"{prefix}_amount"][r, slot] = float(e.amount)
                out[f"{prefix}_age"][r, slot] = age_days(e, AS_OF)
                out[f"{prefix}_mask"][r, slot] = 1.0
        purchases = [e for e in events if e.kind == PURCHASE]
        for slot, e in enumerate(purchases):
            out["purchase_amount"][r, slot] = float(e.amount)
            out["purchase_age"][r, slot] = age_days(e, AS_OF)
            out["purchase_mask"][r, slot] = 1.0
    return ReplayArrays(
        ids=np.array([row.id for row in rows]),
        default=np.array([row.default for row in rows], dtype=bool),
        **{k: v.astype(int) if k.endswith("bucket") else v for k, v in out.items()},
    )


def _evidence(bucket: np.ndarray, fraction: np.ndarray, amount: np.ndarray, age: np.ndarray,
              params: ScoringParams) -> np.ndarray:
    """``factors.aged_evidence`` of every slot."""
    size = np.clip(amount / params.amount_full, 0.0, 1.0)
    partial = fraction < 1.0
    shortfall = np.where(partial, params.cost_partial * (1.0 - fraction) ** params.partial_exponent, 0.0)
    cost = np.asarray(params.lateness_costs())[bucket] + shortfall
    gain = params.evidence_on_time * (params.gain_floor + (1.0 - params.gain_floor) * size)
    evidence = np.where((bucket == 0) & ~partial, gain, -cost * (params.cost_floor + (1.0 - params.cost_floor) * size))
    fast = params.negative_fast_share
    negative = fast * 2.0 ** (-age / params.negative_fast_half_life_days) + (1.0 - fast) * 2.0 ** (
        -age / params.negative_half_life_days)
    return evidence * np.where(evidence > 0, 2.0 ** (-age / params.positive_half_life_days), negative)


def _timeliness(
    bucket: np.ndarray,
    fraction: np.ndarray,
    amount: np.ndarray,
    age: np.ndarray,
    mask: np.ndarray,
    prior: float,
    scale: float,
    params: ScoringParams,
) -> np.ndarray:
    total = (mask * _evidence(bucket, fraction, amount, age, params)).sum(axis=1)
    x = math.log(prior / (1.0 - prior)) + scale * total
    return 1.0 / (1.0 + np.exp(-np.clip(x, -700.0, 700.0)))


def score_arrays(a: ReplayArrays, params: ScoringParams = PARAMS) -> np.ndarray:
    """Unrounded base of every row: the vectorised twin of ``compute_base`` (UCI profile)."""
    card = _timeliness(a.card_bucket, a.card_fraction, a.card_amount, a.card_age, a.card_mask, params.card_prior,
                       params.card_evidence_scale, params)
    bill = _timeliness(a.bill_bucket, a.bill_fraction, a.bill_amount, a.bill_age, a.bill_mask, params.bill_prior,
                       params.bill_evidence_scale, params)
    spend = (a.purchase_mask * a.purchase_amount * 2.0 ** (-a.purchase_age / params.purchase_half_life_days)).sum(
        axis=1
    )
    with np.errstate(divide="ignore"):
        ratio = np.where(spend > 0, params.purchase_half_saturation / np.maximum(spend, 1e-300), np.inf)
    volume = np.where(spend > 0, 1.0 / (1.0 + ratio**params.purchase_shape), 0.0)
    profile = 1.0  # UCI_PROFILE is complete
    return params.score_min + params.span * (
        params.weight_card_repayment * card
        + params.weight_bill_payment * bill
        + params.weight_purchase_volume * volume
        + params.weight_profile * profile
    )


def auc_not_default(score: np.ndarray, default: np.ndarray) -> float:
    """AUC of ``score`` for "does not default": P(score of a payer > score of a defaulter),
    ties counting one half (Mann-Whitney U, as ``roc_auc_score(default, -score)``)."""
    ranks = rankdata(-score)
    positives = int(default.sum())
    negatives = len(default) - positives
    u = ranks[default].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


@dataclass(frozen=True)
class SpreadTarget:
    """What the scale must mean (DESIGN §3), as the fit checks it on the train split (integer
    scores, no social points) and on three model members (``anchors``). Shares are fractions of
    the split; costs are in AUC units, steep, so the fit is in effect "the best AUC that keeps
    the scale's promises"."""

    #: p5–p95 of the split's scores must span at least this many points.
    min_span: float = 220.0
    #: Share of the split in Excellent, and the least share of every band.
    excellent_low: float = 0.15
    excellent_high: float = 0.45
    min_band_share: float = 0.02
    #: A long spotless record with a complete profile reaches at least this; a record of missed
    #: payments stays below this (Building); a newcomer with an empty profile lands in this range
    #: (Fair).
    spotless_min: float = 855.0
    missed_max: float = 530.0
    newcomer_low: float = 552.0
    newcomer_high: float = 598.0
    point_cost: float = 0.002  # AUC per point outside a target
    share_cost: float = 0.5  # AUC per unit of band share (or default rate) outside its range


SPREAD = SpreadTarget()


def band_index(base: np.ndarray, params: ScoringParams = PARAMS) -> np.ndarray:
    """Band of each ``base`` (rounded as ``total_score`` rounds), 0 = the lowest band."""
    scores = np.clip(np.floor(base + 0.5), params.score_min, params.score_max)
    return np.searchsorted([lowest for lowest, _ in params.bands], scores, side="right")


def band_shares(base: np.ndarray, params: ScoringParams = PARAMS) -> np.ndarray:
    """Share of ``base`` in each band, lowest band first."""
    return np.bincount(band_index(base, params), minlength=len(params.bands) + 1) / len(base)


def band_default_rates(base: np.ndarray, default: np.ndarray, params: ScoringParams = PARAMS) -> np.ndarray:
    """Observed default rate per band, lowest band first (NaN for an empty band)."""
    index = band_index(base, params)
    counts = np.bincount(index, minlength=len(params.bands) + 1)
    defaults = np.bincount(index, weights=default.astype(float), minlength=len(params.bands) + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return defaults / counts


def anchors(params: ScoringParams, *, months: int = 36, spend: float = 1500.0) -> dict[str, float]:
    """Bases of three model members on ``AS_OF``: ``spotless`` (``months`` monthly card
    repayments and bills of 250 EUR on time and in full, a purchase of ``spend`` EUR a month,
    complete profile), ``missed`` (twelve months of both missed, complete profile) and
    ``newcomer`` (no events, empty profile)."""
    def month(i: int, kind: str, *, missed: bool = False) -> EventFact:
        due = AS_OF - timedelta(days=30 * i)
        return EventFact(kind=kind, occurred_at=datetime.combine(due, time(12), tzinfo=UTC), amount=Decimal(250),
                         due_date=due, paid_date=None if missed else due, missed=missed)

    spotless = [month(i, kind) for i in range(months) for kind in (CARD_REPAYMENT, BILL_PAYMENT)]
    spotless += [replace(month(i, PURCHASE), amount=Decimal(str(spend)), due_date=None, paid_date=None)
                 for i in range(months)]
    missed = [month(i, kind, missed=True) for i in range(12) for kind in (CARD_REPAYMENT, BILL_PAYMENT)]
    return {
        "spotless": compute_base(spotless, UCI_PROFILE, params, as_of=AS_OF).base,
        "missed": compute_base(missed, UCI_PROFILE, params, as_of=AS_OF).base,
        "newcomer": compute_base([], ProfileFacts(), params, as_of=AS_OF).base,
    }


def spread_penalty(base: np.ndarray, default: np.ndarray, params: ScoringParams = PARAMS,
                   target: SpreadTarget = SPREAD) -> float:
    """AUC given up for a scale that breaks ``target``'s promises (0 when it keeps them)."""
    scores = np.clip(np.floor(base + 0.5), params.score_min, params.score_max)
    p5, p95 = np.percentile(scores, [5, 95])
    points = max(0.0, target.min_span - float(p95 - p5))
    model = anchors(params)
    points += max(0.0, target.spotless_min - model["spotless"]) + max(0.0, model["missed"] - target.missed_max)
    points += max(0.0, target.newcomer_low - model["newcomer"], model["newcomer"] - target.newcomer_high)
    shares = band_shares(base, params)
    excellent = float(shares[-1])
    share_gap = max(0.0, target.excellent_low - excellent, excellent - target.excellent_high) + sum(
        max(0.0, target.min_band_share - float(share)) for share in shares
    )
    # The default rate must fall band by band: each rise costs as much as a share gap.
    rates = band_default_rates(base, default, params)
    share_gap += float(np.nansum(np.maximum(0.0, np.diff(rates))))
    return target.point_cost * points + target.share_cost * share_gap


def check_twin(rows: Sequence[UciRow], a: ReplayArrays, params: ScoringParams) -> float:
    """Largest |score_arrays - compute_base| over ``rows`` (points); should be ~1e-12."""
    twin = score_arrays(a, params)
    exact = np.array([compute_base(row_events(row), UCI_PROFILE, params, as_of=AS_OF).base for row in rows])
    return float(np.abs(twin - exact).max())


# --- the search -------------------------------------------------------------------------
# Each free constant has a range in its own units; the search moves in a transformed
# coordinate (log for positive scales, logit for shares) so one step size fits all. The 60-89
# and 90+ costs are searched as ratios to the cost below them (>= 1), which keeps the costs
# ordered: paying later never costs less.

#: name -> (low, high, transform). The ranges are product choices, not only numeric bounds: a
#: factor with no evidence (the priors) sits mid-scale, so a newcomer starts in Fair; memory
#: (half-lives) is at least two months and at most four years; a late payment costs at least
#: half an on-time payment's gain.
SEARCH_SPACE: dict[str, tuple[float, float, str]] = {
    "cost_late_30_59": (0.5, 30.0, "log"),
    "late_60_89_ratio": (1.0, 10.0, "log"),  # cost_late_60_89 / cost_late_30_59
    "late_90_plus_ratio": (1.0, 10.0, "log"),  # cost_late_90_plus / cost_late_60_89
    "cost_partial": (0.001, 10.0, "log"),
    "partial_exponent": (0.05, 3.0, "log"),
    "amount_full": (1.0, 5000.0, "log"),
    "gain_floor": (0.01, 0.999, "logit"),
    "cost_floor": (0.01, 0.999, "logit"),
    "positive_half_life_days": (60.0, 1460.0, "log"),
    "negative_fast_share": (0.001, 0.999, "logit"),
    "negative_fast_half_life_days": (15.0, 120.0, "log"),
    "negative_half_life_days": (365.0, 1460.0, "log"),
    "card_prior": (0.48, 0.56, "logit"),
    "card_evidence_scale": (0.01, 3.0, "log"),
    "bill_prior": (0.48, 0.56, "logit"),
    "bill_evidence_scale": (0.01, 3.0, "log"),
    "purchase_half_life_days": (30.0, 365.0, "log"),
    "purchase_half_saturation": (10.0, 10_000.0, "log"),
    "purchase_shape": (0.1, 4.0, "log"),
}

_RATIOS = {"late_60_89_ratio": ("cost_late_60_89", "cost_late_30_59"),
           "late_90_plus_ratio": ("cost_late_90_plus", "cost_late_60_89")}


def _forward(x: float, transform: str) -> float:
    if transform == "log":
        return math.log(x)
    x = min(max(x, 1e-9), 1 - 1e-9)
    return math.log(x / (1 - x))


def _inverse(u: float, transform: str) -> float:
    return math.exp(u) if transform == "log" else 1.0 / (1.0 + math.exp(-u))


def _values(p: ScoringParams) -> dict[str, float]:
    out = {name: float(getattr(p, name)) for name in SEARCH_SPACE if hasattr(p, name)}
    for ratio, (upper, lower) in _RATIOS.items():
        out[ratio] = getattr(p, upper) / max(getattr(p, lower), 1e-9)
    return out


def with_values(base: ScoringParams, values: dict[str, float]) -> ScoringParams:
    """``base`` with the searched ``values`` applied (and the derived 1-29, 60-89 and 90+ costs)."""
    # Any so mypy accepts the float-only subset of ScoringParams' fields as keyword arguments.
    fields: dict[str, Any] = {k: v for k, v in values.items() if k not in _RATIOS}
    c30 = fields.get("cost_late_30_59", base.cost_late_30_59)
    c60 = c30 * values.get("late_60_89_ratio", base.cost_late_60_89 / max(base.cost_late_30_59, 1e-9))
    fields["cost_late_60_89"] = c60
    fields["cost_late_90_plus"] = c60 * values.get("late_90_plus_ratio",
                                                   base.cost_late_90_plus / max(base.cost_late_60_89, 1e-9))
    # UCI never shows 1-29 days late: that bucket costs half the 30-59 one.
    fields["cost_late_1_29"] = c30 / 2.0
    return dataclasses.replace(base, **fields)


def fit(
    a: ReplayArrays,
    start: ScoringParams = PARAMS,
    *,
    space: dict[str, tuple[float, float, str]] | None = None,
    passes: int = 5,
    restarts: int = 3,
    seed: int = 0,
    target: SpreadTarget | None = SPREAD,
) -> tuple[ScoringParams, float]:
    """Coordinate descent on a shrinking grid, from ``start`` and random restarts, maximising
    AUC − ``spread_penalty`` on ``a`` (the AUC alone if ``target`` is None) over the constants
    in ``space`` (default ``SEARCH_SPACE``). Returns the best parameters and their objective."""
    space = SEARCH_SPACE if space is None else space
    names = list(space)
    lows = [_forward(max(space[n][0], 1e-9), space[n][2]) for n in names]
    highs = [_forward(space[n][1], space[n][2]) for n in names]
    rng = np.random.default_rng(seed)

    def decode(u: Sequence[float]) -> dict[str, float]:
        return {n: _inverse(x, space[n][2]) for n, x in zip(names, u, strict=True)}

    def objective(u: Sequence[float]) -> float:
        params = with_values(start, decode(u))
        base = score_arrays(a, params)
        penalty = 0.0 if target is None else spread_penalty(base, a.default, params, target)
        return auc_not_default(base, a.default) - penalty

    start_values = _values(start)
    first = [
        min(max(_forward(max(start_values[n], 1e-9), space[n][2]), lo), hi)
        for n, lo, hi in zip(names, lows, highs, strict=True)
    ]
    starts = [first] + [
        [float(rng.uniform(lo, hi)) for lo, hi in zip(lows, highs, strict=True)] for _ in range(restarts - 1)
    ]
    best_u, best = first, -1.0
    for u in starts:
        value = objective(u)
        step = 2.0
        for _ in range(passes):
            for i in range(len(names)):
                for candidate in np.linspace(u[i] - step, u[i] + step, 9):
                    c = float(min(max(candidate, lows[i]), highs[i]))
                    trial = [*u[:i], c, *u[i + 1 :]]
                    v = objective(trial)
                    if v > value + 1e-7:
                        u, value = trial, v
            step /= 2.0
        if value > best:
            best_u, best = u, value
    return with_values(start, decode(best_u)), best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", help="path to uci_credit_card.csv")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)

    train = [row for row in load_rows(args.csv) if not is_test(row)]
    arrays = build_arrays(train)
    print(f"train rows: {len(train)}, defaults: {int(arrays.default.sum())}")
    print(f"current PARAMS train AUC: {auc_not_default(score_arrays(arrays), arrays.default):.4f}")
    params, objective = fit(arrays, passes=args.passes, restarts=args.restarts)
    base = score_arrays(arrays, params)
    print(f"fitted train AUC: {auc_not_default(base, arrays.default):.4f} (objective {objective:.4f})")
    names = [params.lowest_band, *(name for _, name in params.bands)]
    shares = ", ".join(f"{n} {100 * s:.1f} %" for n, s in zip(names, band_shares(base, params), strict=True))
    rates = ", ".join(f"{n} {100 * r:.1f} %" for n, r in
                      zip(names, band_default_rates(base, arrays.default, params), strict=True))
    p5, p50, p95 = np.percentile(np.floor(base + 0.5), [5, 50, 95])
    print(f"train split: p5 {p5:.0f}, median {p50:.0f}, p95 {p95:.0f}; {shares}")
    print(f"train default rate per band: {rates}")
    print("model members: " + ", ".join(f"{k} {v:.1f}" for k, v in anchors(params).items()))
    searched = [n for n in SEARCH_SPACE if hasattr(params, n)]
    for name in ["cost_late_1_29", "cost_late_60_89", "cost_late_90_plus", *searched]:
        print(f"    {name}: float = {getattr(params, name)!r}")
    sample = train[:2000]
    gap = check_twin(sample, build_arrays(sample), params)
    print(f"twin check on {len(sample)} rows (max |twin - compute_base|, points): {gap:.2e}")


if __name__ == "__main__":
    main()
