"""How well the score ranks real people: the UCI replay behind ``manage.py evaluate_scoring``.

Every test-split client (``ID % 5 == 0``) is replayed as Credo events by ``scoring.demo.uci`` and
scored by the production model (``compute_base`` → ``total_score`` with no social points and a
complete profile). The figure of merit is the AUC of the score for *not* defaulting: the chance
that a client who paid in October 2005 outscores one who defaulted (ties count one half).

For reference, two scikit-learn models are trained on the train split with the same
information, the behaviour columns X6-X23 (repayment status, statements, payments; no credit
limit, no demographics): a standardised logistic regression and histogram gradient boosting.
scikit-learn is a development dependency; without it the references are reported as None.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scoring.demo.calibrate import auc_not_default
from scoring.demo.uci import UCI_PROFILE, UciRow, is_test, load_rows, row_events
from scoring.model.factors import band_for, compute_base, total_score
from scoring.model.params import PARAMS


def score_row(row: UciRow) -> tuple[float, int]:
    """(unrounded base, score) of one replayed client, through the production model."""
    base = compute_base(row_events(row), UCI_PROFILE).base
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


def evaluate(
    path: str | Path,
    *,
    scores_out: str | Path | None = None,
    references: bool = True,
) -> dict[str, Any]:
    """Score the test split of the UCI CSV at ``path`` and compare with the references.

    Returns ``test_rows``, ``test_defaults``, ``auc_score`` (integer score, what members see),
    ``auc_base`` (unrounded base), ``logistic_regression`` and ``gradient_boosting`` (None when
    skipped), and the test split's score distribution: ``mean_score``, ``median_score``,
    ``band_counts`` (members per band, lowest band first, empty bands included) and
    ``band_shares`` (the same as fractions of the split). ``scores_out``: write ``ID,score`` for
    every test row, in file order.
    """
    rows = load_rows(path)
    test = [row for row in rows if is_test(row)]
    train = [row for row in rows if not is_test(row)]
    scored = [score_row(row) for row in test]
    bases = np.array([base for base, _ in scored])
    scores = np.array([score for _, score in scored])
    default = np.array([row.default for row in test])

    if scores_out is not None:
        with open(scores_out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["ID", "score"])
            writer.writerows((row.id, score) for row, (_, score) in zip(test, scored, strict=True))

    # Bands listed lowest first, empty ones included, so the report reads the same every run.
    bands = {PARAMS.lowest_band: 0, **{name: 0 for _, name in PARAMS.bands}}
    for score in scores:
        bands[band_for(int(score))] += 1
    result: dict[str, Any] = {
        "test_rows": len(test),
        "test_defaults": int(default.sum()),
        "auc_score": auc_not_default(scores.astype(float), default),
        "auc_base": auc_not_default(bases, default),
        "mean_score": float(scores.mean()),
        "median_score": float(np.median(scores)),
        "band_counts": bands,
        "band_shares": {name: count / len(test) for name, count in bands.items()},
        "logistic_regression": None,
        "gradient_boosting": None,
    }
    if references:
        result.update(reference_aucs(train, test))
    return result
