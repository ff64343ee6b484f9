"""How the score treats groups it never sees: ``manage.py evaluate_scoring --fairness``.

The UCI file holds four demographic columns, X2 sex, X3 education, X4 marriage and X5 age. The
score never reads them (DESIGN §2.1): ``scoring.demo.uci`` drops them when it parses a row, and
this module is the ONLY place that reads them, to measure, after the fact, how the scores of the
test split fall across the groups they define. They are joined to the scores by the row ``ID``
and never leave this report: nothing here writes to the database, and the score model cannot
import this module (it sits below ``scoring.demo`` in the house's layering).

Per group: the count, the score distribution (mean, p5, p50, p95), the observed default rate,
the AUC of the score for not defaulting within the group (None when the group holds only
payers or only defaulters), and the share of the group in the top two bands (Very good and
above) with its ratio to the best group's share of the same attribute: the "four-fifths"
adverse-impact ratio of US employment practice, flagged below 0.8. A low ratio with an equal
default rate would mean the score treats a group worse than its behaviour warrants; a low ratio
with a higher default rate is the score following behaviour.

Codes the data set's documentation leaves undefined (education 0, 5, 6; marriage 0) are pooled
with its "others" (education 4; marriage 3), so no reported group has fewer than ~60 members.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scoring.demo.calibrate import auc_not_default
from scoring.model.params import PARAMS

#: Below this ratio of a group's top-two-band share to the best group's, the group is flagged.
FOUR_FIFTHS = 0.8
#: Age bands (years, lowest age of each band), reported as "<30", "30-39", "40-49", "50+".
AGE_BANDS = (30, 40, 50)

#: The attributes, in report order: (key, title, UCI column).
ATTRIBUTES = (
    ("sex", "Sex", "X2"),
    ("age", "Age", "X5"),
    ("education", "Education", "X3"),
    ("marriage", "Marital status", "X4"),
)

_SEX = {1: "Male", 2: "Female"}
_EDUCATION = {1: "Graduate school", 2: "University", 3: "High school"}
_MARRIAGE = {1: "Married", 2: "Single"}
_OTHER = "Other or unknown"

#: The groups of each attribute, in report order.
GROUPS: dict[str, tuple[str, ...]] = {
    "sex": ("Male", "Female"),
    "age": ("<30", "30-39", "40-49", "50+"),
    "education": ("Graduate school", "University", "High school", _OTHER),
    "marriage": ("Married", "Single", _OTHER),
}


def age_band(age: int) -> str:
    """"<30", "30-39", "40-49" or "50+"."""
    if age < AGE_BANDS[0]:
        return f"<{AGE_BANDS[0]}"
    for low, high in itertools.pairwise(AGE_BANDS):
        if age < high:
            return f"{low}-{high - 1}"
    return f"{AGE_BANDS[-1]}+"


def _group(key: str, value: int) -> str:
    if key == "sex":
        return _SEX[value]
    if key == "age":
        return age_band(value)
    if key == "education":
        return _EDUCATION.get(value, _OTHER)
    return _MARRIAGE.get(value, _OTHER)


def load_groups(path: str | Path) -> dict[int, dict[str, str]]:
    """ID → {attribute key: group label} for every row of the UCI CSV at ``path``."""
    out: dict[int, dict[str, str]] = {}
    with open(path, newline="") as handle:
        for record in csv.DictReader(handle):
            out[int(record["ID"])] = {
                key: _group(key, int(float(record[column]))) for key, _, column in ATTRIBUTES
            }
    return out


def top_two_floor(bands: Sequence[tuple[int, str]] = PARAMS.bands) -> int:
    """The lowest score of the second-highest band (650: Very good and Excellent)."""
    return bands[-2][0]


@dataclass(frozen=True)
class GroupFigures:
    """One group's figures; shares and rates are fractions, scores are points."""

    attribute: str
    group: str
    count: int
    mean_score: float
    p5: float
    p50: float
    p95: float
    defaults: int
    default_rate: float
    auc: float | None
    top_two_share: float
    impact_ratio: float
    flagged: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "group": self.group,
            "count": self.count,
            "mean_score": round(self.mean_score, 1),
            "p5": round(self.p5, 1),
            "p50": round(self.p50, 1),
            "p95": round(self.p95, 1),
            "defaults": self.defaults,
            "default_rate": round(self.default_rate, 4),
            "auc": None if self.auc is None else round(self.auc, 4),
            "top_two_share": round(self.top_two_share, 4),
            "impact_ratio": round(self.impact_ratio, 4),
            "flagged": self.flagged,
        }


def fairness_table(
    ids: Sequence[int],
    scores: np.ndarray,
    default: np.ndarray,
    groups: Mapping[int, Mapping[str, str]],
) -> list[GroupFigures]:
    """The figures of every group of every attribute, in ``ATTRIBUTES`` then ``GROUPS`` order.

    ``ids``, ``scores`` (integer scores) and ``default`` (bool) are aligned, one entry per
    scored row; ``groups`` is ``load_groups``'s mapping. Empty groups are left out.
    """
    floor = top_two_floor()
    top = scores >= floor
    out: list[GroupFigures] = []
    for key, _, _ in ATTRIBUTES:
        labels = np.array([groups[row_id][key] for row_id in ids])
        rows: list[tuple[str, np.ndarray]] = [(g, labels == g) for g in GROUPS[key] if (labels == g).any()]
        shares = {g: float(top[mask].mean()) for g, mask in rows}
        best = max(shares.values())
        for g, mask in rows:
            s, d = scores[mask].astype(float), default[mask]
            p5, p50, p95 = np.percentile(s, [5, 50, 95])
            both = 0 < int(d.sum()) < len(d)
            ratio = shares[g] / best if best > 0 else 1.0
            out.append(
                GroupFigures(
                    attribute=key,
                    group=g,
                    count=int(mask.sum()),
                    mean_score=float(s.mean()),
                    p5=float(p5),
                    p50=float(p50),
                    p95=float(p95),
                    defaults=int(d.sum()),
                    default_rate=float(d.mean()),
                    auc=auc_not_default(s, d) if both else None,
                    top_two_share=shares[g],
                    impact_ratio=ratio,
                    flagged=ratio < FOUR_FIFTHS,
                )
            )
    return out
