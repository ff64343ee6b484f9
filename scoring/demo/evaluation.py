"""How well the score ranks real people: the UCI replay behind ``manage.py evaluate_scoring``.

Every test-split client (``ID % 5 == 0``) is replayed as Credo events by ``scoring.demo.uci`` and
scored by the production model (``compute_base`` → ``total_score`` with no social points and a
complete profile). The figure of merit is the AUC of the score for *not* defaulting: the chance
that a client who paid in October 2005 outscores one who defaulted (ties count one half).

For reference, two scikit-learn models are trained on the train split with the same
information, the behaviour columns X6-X23 (repayment status, statements, payments; no credit
limit, no demographics): a standardised logistic regression and histogram gradient boosting.
scikit-learn is a development dependency; without it the references are reported as None.

What the scale means (``split_figures``, ``fit_odds``): the test split's p5/p50/p95, the observed
default rate per band and per 50-point bucket, whether it falls band by band, and the score-to-
odds relation fitted on the TRAIN split (points to double the odds, odds at 600). With
``fairness``, the per-group table of ``scoring.demo.fairness``. ``published_figures`` /
``as_published`` turn all of it into the JSON that "How the score works" shows
(``scoring.explain.model_card.PUBLISHED_PATH``).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from scoring.demo.calibrate import auc_not_default
from scoring.demo.fairness import FOUR_FIFTHS, fairness_table, load_groups, top_two_floor
from scoring.demo.uci import AS_OF, UCI_PROFILE, UciRow, is_test, load_rows, row_events
from scoring.model.factors import band_for, compute_base, total_score
from scoring.model.params import PARAMS, ScoringParams

#: Width (points) of the buckets of the default-rate table.
BUCKET_WIDTH = 50
#: The score the odds fit is centred on (the DESIGN's mid-scale "Good" threshold).
ODDS_REFERENCE = 600.0
#: Scores at which the published figures state the fitted odds.
ODDS_TABLE_SCORES = (500, 550, 600, 650, 700, 750, 800, 850)


def score_row(row: UciRow) -> tuple[float, int]:
    """(unrounded base, score) of one replayed client, through the production model."""
    base = compute_base(row_events(row), UCI_PROFILE, as_of=AS_OF).base
    return base, total_score(base, 0.0)


def behaviour_matrix(rows: Sequence[UciRow]) -> np.ndarray:
    """X6-X23 as the reference models see them: PAY, BILL_AMT, PAY_AMT (18 columns)."""
    return np.array([[*row.pay_status, *row.bill, *row.paid] for row in rows], dtype=float)


def reference_aucs(train: Sequence[UciRow], test: Sequence[UciRow]) -> dict[str, float | None]:
    """Test-split AUCs (for not defaulting) of the scikit-learn references fitted on ``train``."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:  # a production install has no scikit-learn
        return {"logistic_regression": None, "gradient_boosting": None}
    x_train, x_test = behaviour_matrix(train), behaviour_matrix(test)
    y_train = np.array([row.default for row in train])
    y_test = np.array([row.default for row in test])
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    boosting = HistGradientBoostingClassifier(random_state=0)
    out: dict[str, float | None] = {}
    for name, model in (("logistic_regression", logistic), ("gradient_boosting", boosting)):
        model.fit(x_train, y_train)
        # A higher probability of default should mean a lower score: rank by -P(default).
        out[name] = auc_not_default(-model.predict_proba(x_test)[:, 1], y_test)
    return out


@dataclass(frozen=True)
class ScoredSplit:
    """Rows of one split and their scores through the production model, aligned."""

    ids: list[int]
    bases: np.ndarray
    scores: np.ndarray
    default: np.ndarray


def score_split(rows: Sequence[UciRow]) -> ScoredSplit:
    """Score every row of ``rows`` with ``score_row``."""
    scored = [score_row(row) for row in rows]
    return ScoredSplit(
        ids=[row.id for row in rows],
        bases=np.array([base for base, _ in scored], dtype=float),
        scores=np.array([score for _, score in scored], dtype=int),
        default=np.array([row.default for row in rows], dtype=bool),
    )


def band_ranges(params: ScoringParams = PARAMS) -> list[tuple[str, int, int]]:
    """(label, lowest score, highest score) of every band, lowest band first."""
    lows = [params.score_min, *(lowest for lowest, _ in params.bands)]
    highs = [*(lowest - 1 for lowest, _ in params.bands), params.score_max]
    names = [params.lowest_band, *(name for _, name in params.bands)]
    return list(zip(names, lows, highs, strict=True))


def bucket_ranges(width: int = BUCKET_WIDTH, params: ScoringParams = PARAMS) -> list[tuple[str, int, int]]:
    """("350-399", 350, 399), … of ``width`` scores each; the last one ends at score_max
    (900-950 holds 51 scores)."""
    lows = list(range(params.score_min, params.score_max, width))
    highs = [*(low - 1 for low in lows[1:]), params.score_max]
    return [(f"{low}-{high}", low, high) for low, high in zip(lows, highs, strict=True)]


def default_rates(
    scores: np.ndarray, default: np.ndarray, ranges: Sequence[tuple[str, int, int]]
) -> list[dict[str, Any]]:
    """Per range (label, low, high, inclusive): ``count``, ``defaults`` and ``default_rate``
    (None for an empty range), in ``ranges`` order, empty ranges included."""
    out = []
    for label, low, high in ranges:
        inside = (scores >= low) & (scores <= high)
        count, defaults = int(inside.sum()), int(default[inside].sum())
        out.append(
            {
                "label": label,
                "low": low,
                "high": high,
                "count": count,
                "defaults": defaults,
                "default_rate": round(defaults / count, 4) if count else None,
            }
        )
    return out


def falls_row_by_row(table: Sequence[dict[str, Any]]) -> bool:
    """Whether the default rate strictly falls from each populated row to the next one up
    (empty rows are skipped; fewer than two populated rows cannot show a fall)."""
    rates = [row["defaults"] / row["count"] for row in table if row["count"]]
    return len(rates) >= 2 and all(later < earlier for earlier, later in itertools.pairwise(rates))


@dataclass(frozen=True)
class OddsFit:
    """ln(P(no default) / P(default)) = ``log_odds_at_600`` + ``slope`` × (score − 600), fitted
    by maximum likelihood. ``pdo``: points that double the odds (ln 2 / slope); ``odds_at_600``:
    payers per defaulter expected at a score of 600."""

    slope: float
    log_odds_at_600: float
    rows: int

    @property
    def pdo(self) -> float:
        return math.log(2.0) / self.slope

    @property
    def odds_at_600(self) -> float:
        return math.exp(self.log_odds_at_600)

    def odds_at(self, score: float) -> float:
        return math.exp(self.log_odds_at_600 + self.slope * (score - ODDS_REFERENCE))


def fit_odds(scores: np.ndarray, default: np.ndarray, *, iterations: int = 50) -> OddsFit:
    """Unpenalised logistic regression of "does not default" on the score (Newton-Raphson).

    The score is centred at 600 so the intercept is the log-odds there. Precondition: both
    outcomes occur and the score is not constant (else the likelihood has no maximum).
    """
    x = np.column_stack([np.ones(len(scores)), scores.astype(float) - ODDS_REFERENCE])
    y = (~default.astype(bool)).astype(float)
    beta = np.array([math.log(y.mean() / (1.0 - y.mean())), 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        gradient = x.T @ (y - p)
        hessian = (x * (p * (1.0 - p))[:, None]).T @ x
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if np.abs(step).max() < 1e-12:
            break
    return OddsFit(slope=float(beta[1]), log_odds_at_600=float(beta[0]), rows=len(scores))


def split_figures(split: ScoredSplit) -> dict[str, Any]:
    """The scale's meaning on ``split``: percentiles, default rates per band and per bucket."""
    p5, p50, p95 = (float(v) for v in np.percentile(split.scores.astype(float), [5, 50, 95]))
    bands = default_rates(split.scores, split.default, band_ranges())
    buckets = default_rates(split.scores, split.default, bucket_ranges())
    return {
        "p5": p5,
        "p50": p50,
        "p95": p95,
        "p5_p95_span": p95 - p5,
        "bands": bands,
        "buckets": buckets,
        "falls_band_by_band": falls_row_by_row(bands),
        "falls_bucket_by_bucket": falls_row_by_row(buckets),
    }


def evaluate(
    path: str | Path,
    *,
    scores_out: str | Path | None = None,
    references: bool = True,
    odds: bool = True,
    fairness: bool = False,
) -> dict[str, Any]:
    """Score the test split of the UCI CSV at ``path`` and compare with the references.

    Returns ``test_rows``, ``test_defaults``, ``auc_score`` (integer score, what members see),
    ``auc_base`` (unrounded base), ``logistic_regression`` and ``gradient_boosting`` (None when
    skipped), and the test split's score distribution: ``mean_score``, ``median_score``,
    ``band_counts`` (members per band, lowest band first, empty bands included) and
    ``band_shares`` (the same as fractions of the split); ``split_figures``'s keys (p5, p50,
    p95, ``p5_p95_span``, default rates per band and per 50-point bucket, whether they fall);
    ``odds`` (an ``OddsFit`` of the TRAIN split's scores, or None when ``odds`` is false: it
    scores the 24,000 train rows); ``fairness`` (``fairness.fairness_table`` of the test split,
    or None unless ``fairness``). ``scores_out``: write ``ID,score`` for every test row, in file
    order.
    """
    rows = load_rows(path)
    test = [row for row in rows if is_test(row)]
    train = [row for row in rows if not is_test(row)]
    split = score_split(test)
    scores, default = split.scores, split.default

    if scores_out is not None:
        with open(scores_out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["ID", "score"])
            writer.writerows(zip(split.ids, scores.tolist(), strict=True))

    # Bands listed lowest first, empty ones included, so the report reads the same every run.
    bands = {PARAMS.lowest_band: 0, **{name: 0 for _, name in PARAMS.bands}}
    for score in scores:
        bands[band_for(int(score))] += 1
    result: dict[str, Any] = {
        "test_rows": len(test),
        "test_defaults": int(default.sum()),
        "auc_score": auc_not_default(scores.astype(float), default),
        "auc_base": auc_not_default(split.bases, default),
        "mean_score": float(scores.mean()),
        "median_score": float(np.median(scores)),
        "band_counts": bands,
        "band_shares": {name: count / len(test) for name, count in bands.items()},
        **split_figures(split),
        "odds": None,
        "fairness": None,
        "logistic_regression": None,
        "gradient_boosting": None,
    }
    if odds:
        trained = score_split(train)
        result["odds"] = fit_odds(trained.scores, trained.default)
    if fairness:
        result["fairness"] = fairness_table(split.ids, scores, default, load_groups(path))
    if references:
        result.update(reference_aucs(train, test))
    return result


def params_fingerprint(params: ScoringParams = PARAMS) -> str:
    """First 12 hex digits of the SHA-256 of the model's constants (sorted JSON): any change of
    a constant changes it."""
    text = json.dumps(dataclasses.asdict(params), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def published_figures(path: str | Path, *, references: bool = True, generated_on: date | None = None) -> dict[str, Any]:
    """``as_published`` of a full ``evaluate`` of the UCI CSV at ``path`` (odds and fairness
    included). ``references=False`` leaves the two reference AUCs None (they take a fit of
    two models)."""
    result = evaluate(path, references=references, odds=True, fairness=True)
    return as_published(result, generated_on=generated_on)


def as_published(result: dict[str, Any], *, generated_on: date | None = None) -> dict[str, Any]:
    """What the "How the score works" page shows, from an ``evaluate`` result computed with
    ``odds`` and ``fairness``, as JSON-safe values (floats rounded, so a recomputation compares
    exactly): ``model`` (the constants' fingerprint, the date generated), the test split's size,
    AUCs, percentiles, default rates per band and per bucket, the odds fit (train split) and the
    fairness table."""
    fit: OddsFit = result["odds"]

    def r4(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "model": {
            "params_fingerprint": params_fingerprint(),
            "generated_on": (generated_on or date.today()).isoformat(),
        },
        "data": {
            "name": "UCI default of credit card clients (Taiwan, 2005)",
            "split": "test: ID % 5 == 0",
            "test_rows": result["test_rows"],
            "test_defaults": result["test_defaults"],
            "train_rows": fit.rows,
        },
        "auc": {
            "score": r4(result["auc_score"]),
            "logistic_regression": r4(result["logistic_regression"]),
            "gradient_boosting": r4(result["gradient_boosting"]),
        },
        "distribution": {
            "mean": round(result["mean_score"], 1),
            "p5": round(result["p5"], 1),
            "p50": round(result["p50"], 1),
            "p95": round(result["p95"], 1),
            "p5_p95_span": round(result["p5_p95_span"], 1),
        },
        "bands": result["bands"],
        "buckets": result["buckets"],
        "falls_band_by_band": result["falls_band_by_band"],
        "odds": {
            "pdo": round(fit.pdo, 1),
            "odds_at_600": round(fit.odds_at_600, 2),
            "slope": round(fit.slope, 6),
            "log_odds_at_600": round(fit.log_odds_at_600, 4),
            "odds_at": {str(s): round(fit.odds_at(s), 2) for s in ODDS_TABLE_SCORES},
        },
        "fairness": {
            "four_fifths": FOUR_FIFTHS,
            "top_two_floor": top_two_floor(),
            "groups": [g.as_dict() for g in result["fairness"]],
        },
    }
