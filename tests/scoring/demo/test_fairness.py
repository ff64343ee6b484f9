"""Fairness is measured after the fact and never used: the per-group table, and the proof that
no demographic value reaches the model or the members' database."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from django.apps import apps
from django.conf import settings

from scoring.demo import fairness
from scoring.demo.fairness import GROUPS, age_band, fairness_table, load_groups, top_two_floor
from scoring.demo.uci import UciRow

UCI_CSV = settings.CREDO_DATA_DIR / "uci_credit_card.csv"
ROOT = Path(settings.BASE_DIR)

#: Words that would name a demographic value in a field or identifier.
DEMOGRAPHIC_WORDS = {
    "sex", "gender", "age", "birth", "birthday", "birthdate", "dob", "born", "education", "marriage",
    "marital", "married", "religion", "ethnicity", "race", "nationality",
}
#: In the model's code "age" is an event's age in days (it fades evidence), so identifiers are
#: checked for the other words; a person's age would have to be named by one of them or by a
#: database field, which is checked with "age" included.
IDENTIFIER_WORDS = DEMOGRAPHIC_WORDS - {"age"} | {"years", "elderly", "youth"}


def test_age_bands() -> None:
    assert [age_band(a) for a in (21, 29, 30, 39, 40, 49, 50, 79)] == [
        "<30", "<30", "30-39", "30-39", "40-49", "40-49", "50+", "50+"]


def test_load_groups_maps_the_codes_and_pools_the_undocumented_ones(tmp_path: Path) -> None:
    header = "ID," + ",".join(f"X{i}" for i in range(1, 24)) + ",Y\n"
    rest = ",".join(["0"] * 18)
    csv_path = tmp_path / "uci.csv"
    csv_path.write_text(
        header
        + f"1,20000,2,1,1,24,{rest},1\n"
        + f"2,20000,1,4,3,35,{rest},0\n"
        + f"3,20000,1,0,0,49,{rest},0\n"
        + f"4,20000,2,6,2,61,{rest},0\n"
    )
    assert load_groups(csv_path) == {
        1: {"sex": "Female", "age": "<30", "education": "Graduate school", "marriage": "Married"},
        2: {"sex": "Male", "age": "30-39", "education": "Other or unknown", "marriage": "Other or unknown"},
        3: {"sex": "Male", "age": "40-49", "education": "Other or unknown", "marriage": "Other or unknown"},
        4: {"sex": "Female", "age": "50+", "education": "Other or unknown", "marriage": "Single"},
    }


def test_fairness_table_figures_and_the_four_fifths_flag() -> None:
    assert top_two_floor() == 650
    # Four women, all in the top two bands; four men, two of them there (ratio 0.5, flagged).
    ids = list(range(1, 9))
    scores = np.array([700, 660, 650, 720, 700, 649, 500, 690])
    default = np.array([False, False, True, False, False, True, True, False])
    groups = {
        i: {"sex": "Female" if i <= 4 else "Male", "age": "<30", "education": "University", "marriage": "Single"}
        for i in ids
    }
    table = fairness_table(ids, scores, default, groups)
    by = {(g.attribute, g.group): g for g in table}
    assert set(by) == {("sex", "Male"), ("sex", "Female"), ("age", "<30"), ("education", "University"),
                       ("marriage", "Single")}
    assert [(g.attribute, g.group) for g in table][:2] == [("sex", "Male"), ("sex", "Female")]
    women, men = by["sex", "Female"], by["sex", "Male"]
    assert (women.count, women.defaults, women.default_rate) == (4, 1, 0.25)
    assert women.mean_score == 682.5 and women.p50 == 680.0
    assert (women.top_two_share, women.impact_ratio, women.flagged) == (1.0, 1.0, False)
    assert (men.top_two_share, men.impact_ratio, men.flagged) == (0.5, 0.5, True)
    # Men: payers 700, 690 outscore defaulters 649, 500 every time.
    assert men.auc == 1.0
    # Women: the one defaulter (650) is outscored by 700, 660 and 720: AUC 1.0.
    assert women.auc == 1.0
    everyone = by["age", "<30"]
    assert (everyone.count, everyone.top_two_share, everyone.impact_ratio) == (8, 0.75, 1.0)


def test_a_group_with_one_outcome_has_no_auc() -> None:
    ids = [1, 2]
    groups = {i: {"sex": "Female", "age": "50+", "education": "High school", "marriage": "Married"} for i in ids}
    table = fairness_table(ids, np.array([600, 700]), np.array([False, False]), groups)
    assert [g.auc for g in table] == [None, None, None, None]
    assert table[0].as_dict()["auc"] is None


@pytest.mark.parametrize("key", ["sex", "age", "education", "marriage"])
def test_every_real_row_falls_in_a_listed_group(key: str) -> None:
    groups = load_groups(UCI_CSV)
    assert len(groups) == 30_000
    assert {g[key] for g in groups.values()} == set(GROUPS[key])


# --- never used ------------------------------------------------------------------------


def _words(name: str) -> set[str]:
    """snake_case and CamelCase split into lower-case words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return {w.lower() for w in spaced.split("_") if w}


def test_no_model_of_the_database_holds_a_demographic_field() -> None:
    found = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if _words(field.name) & DEMOGRAPHIC_WORDS
    ]
    assert found == []


def _identifiers(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return names


def test_the_score_model_names_no_demographic_value() -> None:
    modules = [*sorted((ROOT / "scoring" / "model").glob("*.py")), ROOT / "scoring" / "demo" / "uci.py"]
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules
        for name in _identifiers(path)
        if _words(name) & IDENTIFIER_WORDS
    }
    assert found == set()


def test_the_replayed_row_cannot_carry_a_demographic_value() -> None:
    assert list(UciRow.__dataclass_fields__) == ["id", "pay_status", "bill", "paid", "default"]


def test_only_the_fairness_module_names_the_demographic_columns() -> None:
    """No other module of the project holds "X2".."X5" (the UCI demographic columns) as a
    string: reading them anywhere else would take a deliberate change to this test."""
    columns = {"X2", "X3", "X4", "X5"}
    readers = set()
    for app in ("accounts", "social", "scoring", "leaderboards", "config"):
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in columns:
                    readers.add(str(path.relative_to(ROOT)))
    assert readers == {str(Path(fairness.__file__).relative_to(ROOT))}
