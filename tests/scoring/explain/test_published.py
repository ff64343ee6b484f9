"""The committed figures of "How the score works" are the current model's: recomputed from the
UCI data and compared, so the page can never show the figures of another model."""

from __future__ import annotations

import json

from django.conf import settings

from scoring.demo.evaluation import params_fingerprint, published_figures
from scoring.explain.model_card import PUBLISHED_PATH

UCI_CSV = settings.CREDO_DATA_DIR / "uci_credit_card.csv"
REGENERATE = "regenerate it: manage.py evaluate_scoring --publish, then commit scoring/explain/published.json"


def _comparable(figures: dict) -> dict:
    """Everything but the date generated and the two reference AUCs (this test does not refit
    the scikit-learn references; they depend only on the data, not on the model)."""
    out = json.loads(json.dumps(figures))
    del out["model"]["generated_on"]
    out["auc"].pop("logistic_regression")
    out["auc"].pop("gradient_boosting")
    return out


def test_the_published_figures_are_the_current_models() -> None:
    committed = json.loads(PUBLISHED_PATH.read_text())
    assert committed["model"]["params_fingerprint"] == params_fingerprint(), f"constants changed: {REGENERATE}"
    recomputed = published_figures(UCI_CSV, references=False)
    assert _comparable(committed) == _comparable(recomputed), f"the model's figures changed: {REGENERATE}"


def test_the_published_figures_carry_the_references() -> None:
    committed = json.loads(PUBLISHED_PATH.read_text())
    # Measured on the test split with scikit-learn 1.9 (see the data README): 0.723 and 0.779.
    assert round(committed["auc"]["logistic_regression"], 3) == 0.723
    assert round(committed["auc"]["gradient_boosting"], 3) == 0.779


def test_the_published_scale_keeps_its_promises() -> None:
    """What the scale must mean on the UCI test split: the score ranks at least as well as
    promised, spreads over 200 points and more, and its default rate falls band by band."""
    committed = json.loads(PUBLISHED_PATH.read_text())
    assert committed["auc"]["score"] >= 0.765
    assert committed["distribution"]["p5_p95_span"] >= 200
    assert committed["falls_band_by_band"] is True
    rates = [row["default_rate"] for row in committed["bands"] if row["count"]]
    assert rates == sorted(rates, reverse=True) and len(rates) == len(committed["bands"])
