"""Fit the behavioural constants of ``ScoringParams`` on the UCI TRAIN split.

    .venv/bin/python -m scoring.demo.calibrate <CREDO_DATA_DIR>/uci_credit_card.csv

prints the fitted constants (paste them into ``params.py``), their train-split AUC and the
train split's band distribution. It never scores the test split: that is
``manage.py evaluate_scoring``'s job.

How: every train row is replayed through ``scoring.demo.uci.row_events`` once and flattened into
numpy arrays (lateness bucket, paid fraction, age in days of each event). ``score_arrays`` is a
vectorised twin of ``compute_base`` over those arrays, so one evaluation of a candidate
parameter set takes milliseconds; ``check_twin`` asserts it agrees with ``compute_base`` on
every row. The search is a coordinate descent over bounded, transformed constants that keeps
the lateness qualities ordered (1 ≥ 30-59 ≥ 60-89 ≥ 0), with restarts, the fixed DESIGN weights
untouched.

What it maximises: the train-split AUC of the base for "does not default" MINUS a spread
penalty (``spread_penalty``, target ``SPREAD``). AUC alone does not care where the scores sit,
and fitted on AUC alone the constants put 89 % of members in "Excellent" (700+): every factor
of an on-time payer ends near 1, so friend contagion (d = base − 650) lifted almost everyone
and the bands, perks and badges had nothing to tell apart. The penalty is zero while the train
split's scores (complete profile, no social points, as ``evaluate_scoring`` replays them) have
their median within ``SpreadTarget.median_low..median_high``, between
``excellent_low..excellent_high`` of members in Excellent and at least ``min_band_share`` in
every band; outside, it costs ``median_cost`` of AUC per point of median and ``share_cost`` per
unit of share. The costs are steep, so the fit is in effect "the best AUC within the target
region": inside it only the AUC moves the search. The levers that move the distribution most
while costing least AUC are the thin-file priors (a strong bill prior holds the bill factor near
mid-scale: its lateness duplicates the card's, same paid date) and a realistic purchase scale
(half of the factor at a few hundred EUR of recent spend instead of ~40).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from scoring.demo.uci import UCI_PROFILE, UciRow, is_test, load_rows, row_events
from scoring.model.factors import (
    BILL_PAYMENT,
    CARD_REPAYMENT,
    PURCHASE,
    EventFact,
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

    Ages are days before the stream's own latest event (timeliness) or before the member's
    latest event of any kind (purchases), as in ``compute_base``.
    """

    ids: np.ndarray
    default: np.ndarray
    card_bucket: np.ndarray
    card_fraction: np.ndarray
    card_age: np.ndarray
    card_mask: np.ndarray
    bill_bucket: np.ndarray
    bill_fraction: np.ndarray
    bill_age: np.ndarray
    bill_mask: np.ndarray
    purchase_amount: np.ndarray
    purchase_age: np.ndarray
    purchase_mask: np.ndarray


def _days(later: object, earlier: object) -> float:
    return (later - earlier).total_seconds() / 86_400.0  # type: ignore[operator]


def build_arrays(rows: Sequence[UciRow]) -> ReplayArrays:
    """Replay ``rows`` through ``row_events`` and flatten their events into arrays."""
    n = len(rows)

    def zeros() -> np.ndarray:
        return np.zeros((n, _SLOTS))

    names = [
        "card_bucket",
        "card_fraction",
        "card_age",
        "card_mask",
        "bill_bucket",
        "bill_fraction",
        "bill_age",
        "bill_mask",
        "purchase_amount",
        "purchase_age",
        "purchase_mask",
    ]
    out = {name: zeros() for name in names}
    for r, row in enumerate(rows):
        events = row_events(row)
        anchor = max(e.occurred_at for e in events) if events else None
        for kind, prefix in ((CARD_REPAYMENT, "card"), (BILL_PAYMENT, "bill")):
            stream: list[EventFact] = [e for e in events if e.kind == kind]
            if not stream:
                continue
            latest = max(e.occurred_at for e in stream)
            for slot, e in enumerate(stream):
                out[f"{prefix}_bucket"][r, slot] = lateness_bucket(days_late(e))
                out[f"{prefix}_fraction"][r, slot] = paid_fraction(e)
                out[f"{prefix}_age"][r, slot] = _days(latest, e.occurred_at)
                out[f"{prefix}_mask"][r, slot] = 1.0
        purchases = [e for e in events if e.kind == PURCHASE]
        for slot, e in enumerate(purchases):
            out["purchase_amount"][r, slot] = float(e.amount)
            out["purchase_age"][r, slot] = _days(anchor, e.occurred_at)
            out["purchase_mask"][r, slot] = 1.0
    return ReplayArrays(
        ids=np.array([row.id for row in rows]),
        default=np.array([row.default for row in rows], dtype=bool),
        **{k: v.astype(int) if k.endswith("bucket") else v for k, v in out.items()},
    )


def _quality(bucket: np.ndarray, fraction: np.ndarray, params: ScoringParams) -> np.ndarray:
    q = np.asarray(params.lateness_qualities())[bucket]
    floor = params.partial_payment_floor
    partial = floor + (1.0 - floor) * fraction**params.partial_payment_exponent
    return q * np.where(fraction >= 1.0, 1.0, partial)


def _timeliness(
    bucket: np.ndarray,
    fraction: np.ndarray,
    age: np.ndarray,
    mask: np.ndarray,
    prior: float,
    strength: float,
    params: ScoringParams,
) -> np.ndarray:
    w = mask * 2.0 ** (-age / params.timeliness_half_life_days)
    q = _quality(bucket, fraction, params)
    # The same weights for the prior and the events, as ``factors.timeliness``.
    return np.clip((strength * prior + (w * q).sum(axis=1)) / (strength + w.sum(axis=1)), 0.0, 1.0)


def score_arrays(a: ReplayArrays, params: ScoringParams = PARAMS) -> np.ndarray:
    """Unrounded base of every row: the vectorised twin of ``compute_base`` (UCI profile)."""
    card = _timeliness(
        a.card_bucket,
        a.card_fraction,
        a.card_age,
        a.card_mask,
        params.card_prior,
        params.card_prior_strength,
        params,
    )
    bill = _timeliness(
        a.bill_bucket,
        a.bill_fraction,
        a.bill_age,
        a.bill_mask,
        params.bill_prior,
        params.bill_prior_strength,
        params,
    )
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
    """Where the fit wants the train split's scores (integer, no social points); see the module
    docstring. Shares are fractions of the split; costs are in AUC units."""

    median_low: float = 640.0
    median_high: float = 690.0
    excellent_low: float = 0.15
    excellent_high: float = 0.35
    min_band_share: float = 0.005
    median_cost: float = 0.002  # AUC per point of median outside the range
    share_cost: float = 0.5  # AUC per unit of band share outside its range


SPREAD = SpreadTarget()


def band_shares(base: np.ndarray, params: ScoringParams = PARAMS) -> np.ndarray:
    """Share of ``base`` (rounded as ``total_score`` rounds) in each band, lowest band first."""
    scores = np.clip(np.floor(base + 0.5), params.score_min, params.score_max)
    index = np.searchsorted([lowest for lowest, _ in params.bands], scores, side="right")
    return np.bincount(index, minlength=len(params.bands) + 1) / len(scores)


def spread_penalty(base: np.ndarray, target: SpreadTarget = SPREAD, params: ScoringParams = PARAMS) -> float:
    """AUC given up for a distribution of ``base`` outside ``target`` (0 inside it)."""
    median = float(np.median(np.clip(np.floor(base + 0.5), params.score_min, params.score_max)))
    shares = band_shares(base, params)
    excellent = float(shares[-1])
    median_gap = max(0.0, target.median_low - median, median - target.median_high)
    share_gap = max(0.0, target.excellent_low - excellent, excellent - target.excellent_high) + sum(
        max(0.0, target.min_band_share - float(share)) for share in shares
    )
    return target.median_cost * median_gap + target.share_cost * share_gap


def check_twin(rows: Sequence[UciRow], a: ReplayArrays, params: ScoringParams) -> float:
    """Largest |score_arrays - compute_base| over ``rows`` (points); should be ~1e-12."""
    twin = score_arrays(a, params)
    exact = np.array([compute_base(row_events(row), UCI_PROFILE, params).base for row in rows])
    return float(np.abs(twin - exact).max())


# --- the search -------------------------------------------------------------------------
# Each free constant has a range in its own units; the search moves in a transformed
# coordinate (log for positive scales, logit for shares) so one step size fits all. The 60-89
# quality is searched as a share of the 30-59 quality, which keeps the buckets ordered.

#: name -> (low, high, transform). The ranges are product choices, not only numeric bounds:
#: a payment 30-59 days late must cost at least 40 % of an on-time payment's quality; a new
#: member's factors (the priors) sit mid-scale, so a newcomer starts in "Building" or "Fair"
#: (518-581 points; 608-671 with a complete profile), not "Excellent"; a prior weighs at least
#: one event and at most 100 (a file stays "thin" for up to a few years of monthly events: this
#: is what keeps five good months from reaching the top of the scale); memory (half-lives) is at
#: least a month and at most a year.
SEARCH_SPACE: dict[str, tuple[float, float, str]] = {
    "quality_late_30_59": (0.05, 0.6, "logit"),
    "late_60_89_share": (0.0, 0.8, "logit"),  # quality_late_60_89 / quality_late_30_59
    "partial_payment_floor": (0.0, 1.0, "logit"),
    "partial_payment_exponent": (0.05, 3.0, "log"),
    "timeliness_half_life_days": (30.0, 365.0, "log"),
    "card_prior": (0.4, 0.55, "logit"),
    "card_prior_strength": (1.0, 100.0, "log"),
    "bill_prior": (0.4, 0.55, "logit"),
    "bill_prior_strength": (1.0, 100.0, "log"),
    "purchase_half_life_days": (30.0, 365.0, "log"),
    "purchase_half_saturation": (10.0, 10_000.0, "log"),
    "purchase_shape": (0.1, 4.0, "log"),
}


def _forward(x: float, transform: str) -> float:
    if transform == "log":
        return math.log(x)
    x = min(max(x, 1e-9), 1 - 1e-9)
    return math.log(x / (1 - x))


def _inverse(u: float, transform: str) -> float:
    return math.exp(u) if transform == "log" else 1.0 / (1.0 + math.exp(-u))


def _values(p: ScoringParams) -> dict[str, float]:
    out = {name: float(getattr(p, name)) for name in SEARCH_SPACE if hasattr(p, name)}
    out["late_60_89_share"] = p.quality_late_60_89 / max(p.quality_late_30_59, 1e-9)
    return out


def with_values(base: ScoringParams, values: dict[str, float]) -> ScoringParams:
    """``base`` with the searched ``values`` applied (and the derived 1-29 and 60-89 buckets)."""
    # Any so mypy accepts the float-only subset of ScoringParams' fields as keyword arguments.
    fields: dict[str, Any] = {k: v for k, v in values.items() if k != "late_60_89_share"}
    q30 = fields.get("quality_late_30_59", base.quality_late_30_59)
    share = values.get("late_60_89_share", base.quality_late_60_89 / max(q30, 1e-9))
    fields["quality_late_60_89"] = q30 * share
    # UCI never shows 1-29 days late: keep that bucket half-way between on time and 30-59.
    fields["quality_late_1_29"] = (base.quality_on_time + q30) / 2.0
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
        base = score_arrays(a, with_values(start, decode(u)))
        penalty = 0.0 if target is None else spread_penalty(base, target, start)
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
    print(f"train split: median {np.median(np.floor(base + 0.5)):.0f}; {shares}")
    searched = [n for n in SEARCH_SPACE if hasattr(params, n)]
    for name in ["quality_late_1_29", "quality_late_60_89", *searched]:
        print(f"    {name}: float = {getattr(params, name)!r}")
    sample = train[:2000]
    gap = check_twin(sample, build_arrays(sample), params)
    print(f"twin check on {len(sample)} rows (max |twin - compute_base|, points): {gap:.2e}")


if __name__ == "__main__":
    main()
