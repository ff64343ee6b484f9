"""The figures that give the scale its meaning: default-rate tables, their fall, the odds fit,
and ``evaluate_scoring``'s report of them."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command

from scoring.demo.evaluation import (
    ScoredSplit,
    as_published,
    band_ranges,
    bucket_ranges,
    default_rates,
    evaluate,
    falls_row_by_row,
    fit_odds,
    params_fingerprint,
    split_figures,
)
from scoring.model.params import PARAMS, ScoringParams

UCI_CSV = settings.CREDO_DATA_DIR / "uci_credit_card.csv"


def test_band_ranges_cover_the_scale_without_gaps() -> None:
    assert band_ranges() == [
        ("Building", 350, 549),
        ("Fair", 550, 599),
        ("Good", 600, 649),
        ("Very good", 650, 699),
        ("Excellent", 700, 950),
    ]


def test_buckets_are_fifty_points_and_the_last_ends_at_950() -> None:
    buckets = bucket_ranges()
    assert len(buckets) == 12
    assert buckets[0] == ("350-399", 350, 399)
    assert buckets[-2] == ("850-899", 850, 899)
    assert buckets[-1] == ("900-950", 900, 950)
    assert all(nxt[1] == prev[2] + 1 for prev, nxt in itertools.pairwise(buckets))


def test_default_rates_count_inclusive_ranges_and_leave_empty_ones_rateless() -> None:
    scores = np.array([350, 399, 400, 449, 449, 950])
    default = np.array([True, False, True, True, False, False])
    table = default_rates(scores, default, [("a", 350, 399), ("b", 400, 449), ("c", 450, 899), ("d", 900, 950)])
    assert table == [
        {"label": "a", "low": 350, "high": 399, "count": 2, "defaults": 1, "default_rate": 0.5},
        {"label": "b", "low": 400, "high": 449, "count": 3, "defaults": 2, "default_rate": 0.6667},
        {"label": "c", "low": 450, "high": 899, "count": 0, "defaults": 0, "default_rate": None},
        {"label": "d", "low": 900, "high": 950, "count": 1, "defaults": 0, "default_rate": 0.0},
    ]


def _row(count: int, defaults: int) -> dict[str, int]:
    return {"count": count, "defaults": defaults}


def test_falls_row_by_row_skips_empty_rows_and_needs_a_strict_fall() -> None:
    assert falls_row_by_row([_row(10, 5), _row(0, 0), _row(10, 2), _row(10, 1)])
    assert not falls_row_by_row([_row(10, 5), _row(10, 5)])  # equal is no fall
    assert not falls_row_by_row([_row(10, 2), _row(10, 3)])
    assert not falls_row_by_row([_row(10, 2), _row(0, 0)])  # one populated row shows nothing


def test_fit_odds_recovers_the_odds_of_a_two_score_population() -> None:
    # At 600: 2 payers per defaulter; at 700: 8. Two distinct scores: the fit passes through
    # both observed log-odds, so odds double every 50 points.
    scores = np.array([600] * 3 + [700] * 9)
    default = np.array([True, False, False] + [True] + [False] * 8)
    fit = fit_odds(scores, default)
    assert fit.rows == 12
    assert fit.odds_at_600 == pytest.approx(2.0, rel=1e-9)
    assert fit.pdo == pytest.approx(50.0, rel=1e-9)
    assert fit.slope == pytest.approx(math.log(4) / 100, rel=1e-9)
    assert fit.odds_at(650) == pytest.approx(4.0, rel=1e-9)


def test_fit_odds_agrees_with_scikit_learns_unpenalised_fit() -> None:
    from sklearn.linear_model import LogisticRegression  # a development dependency only

    rng = np.random.default_rng(7)
    scores = rng.integers(450, 850, size=2_000)
    repay = rng.random(2_000) < 1.0 / (1.0 + np.exp(-(0.8 + 0.01 * (scores - 600))))
    fit = fit_odds(scores, ~repay)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(
        (scores - 600.0).reshape(-1, 1), repay
    )
    assert fit.slope == pytest.approx(float(reference.coef_[0][0]), rel=1e-5)
    assert fit.log_odds_at_600 == pytest.approx(float(reference.intercept_[0]), rel=1e-5)


def test_split_figures_on_a_small_split() -> None:
    split = ScoredSplit(
        ids=[1, 2, 3, 4, 5],
        bases=np.array([500.0, 560.0, 610.0, 660.0, 720.0]),
        scores=np.array([500, 560, 610, 660, 720]),
        default=np.array([True, True, False, False, False]),
    )
    figures = split_figures(split)
    assert (figures["p5"], figures["p50"], figures["p95"]) == (512.0, 610.0, 708.0)
    assert figures["p5_p95_span"] == 196.0
    assert [row["count"] for row in figures["bands"]] == [1, 1, 1, 1, 1]
    assert [row["default_rate"] for row in figures["bands"]] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert figures["falls_band_by_band"] is False
    assert [row["count"] for row in figures["buckets"]] == [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0]


def test_params_fingerprint_follows_every_constant() -> None:
    assert params_fingerprint() == params_fingerprint(ScoringParams())
    assert len(params_fingerprint()) == 12
    assert params_fingerprint(ScoringParams(contagion_cap=PARAMS.contagion_cap + 1)) != params_fingerprint()


@pytest.fixture(scope="module")
def uci_result() -> dict:
    """One full replay of the UCI file (test split, the train split for the odds, fairness)."""
    return evaluate(UCI_CSV, references=False, odds=True, fairness=True)


def test_evaluate_reports_the_meaning_of_the_scale(uci_result: dict) -> None:
    result = uci_result
    assert (result["test_rows"], result["test_defaults"]) == (6_000, 1_349)
    assert sum(row["count"] for row in result["bands"]) == 6_000
    assert sum(row["count"] for row in result["buckets"]) == 6_000
    assert sum(row["defaults"] for row in result["bands"]) == 1_349
    assert [row["count"] for row in result["bands"]] == list(result["band_counts"].values())
    assert result["p5"] <= result["p50"] <= result["p95"]
    assert result["p5_p95_span"] == result["p95"] - result["p5"]
    assert result["odds"].rows == 24_000
    assert result["odds"].slope > 0  # a higher score means better odds of repaying
    assert len(result["fairness"]) == 2 + 4 + 4 + 3


def test_evaluate_scoring_prints_every_table_and_publishes(
    uci_result: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "published.json"
    call_command("evaluate_scoring", str(UCI_CSV), "--no-references", "--fairness", "--publish", str(out))
    text = capsys.readouterr().out
    result = uci_result
    assert f"Credo score (integer, 350-950)        {result['auc_score']:.4f}" in text
    assert f"  p5 {result['p5']:.0f}, p50 {result['p50']:.0f}, p95 {result['p95']:.0f}: " in text
    building = result["bands"][0]
    assert f"  Building   350-549  {building['count']:>7} {building['defaults']:>8} " in text
    assert f"  default rate falls band by band: {'yes' if result['falls_band_by_band'] else 'NO'}" in text
    assert "  350-399  " in text and "  900-950  " in text
    assert f"points to double the odds (PDO): {result['odds'].pdo:.1f}; odds at 600: " in text
    for line in ("  Sex", "  Age", "  Education", "  Marital status", "    Female", "    50+", "    High school"):
        assert line + "\n" in text or line + " " in text
    assert f"published figures written to {out}" in text
    written = json.loads(out.read_text())
    assert written == as_published(result, generated_on=None) | {"model": written["model"]}
    assert written["model"]["params_fingerprint"] == params_fingerprint()
