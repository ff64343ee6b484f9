"""How the score works: the page and ``GET /api/v1/score/model/`` say what the model runs on and
what the committed figures measured."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from scoring.explain.model_card import (
    PUBLISHED_PATH,
    bands,
    example_amount,
    factors,
    model_card,
    page_context,
    worked_examples,
)
from scoring.model.params import PARAMS, ScoringParams

pytestmark = pytest.mark.django_db

PUBLISHED = json.loads(PUBLISHED_PATH.read_text())


def test_factors_come_from_the_constants_the_model_runs_on() -> None:
    rows = factors()
    assert [(f["name"], f["weight"], f["max_points"]) for f in rows] == [
        ("card_repayment_timeliness", PARAMS.weight_card_repayment, PARAMS.span * PARAMS.weight_card_repayment),
        ("bill_payment_timeliness", PARAMS.weight_bill_payment, PARAMS.span * PARAMS.weight_bill_payment),
        ("purchase_volume", PARAMS.weight_purchase_volume, PARAMS.span * PARAMS.weight_purchase_volume),
        ("profile_completeness", PARAMS.weight_profile, PARAMS.span * PARAMS.weight_profile),
    ]
    card = " ".join(rows[0]["moves"])
    assert f"{PARAMS.cost_late_30_59:g} if 30–59" in card
    assert f"{PARAMS.cost_late_90_plus:g} if 90 days or more late or missed" in card
    assert f"good evidence halves every {PARAMS.positive_half_life_days:,g} days" in card
    assert f"{100 * PARAMS.negative_fast_share:.0f} % fades fast (it halves every " \
           f"{PARAMS.negative_fast_half_life_days:,g} days)" in card
    assert f"the rest halves every {PARAMS.negative_half_life_days:,g} days" in card
    assert f"when {PARAMS.amount_full:,.0f} EUR or more was due" in card
    assert f"down to {100 * PARAMS.cost_floor:.0f} % of that" in card
    assert f"counts {PARAMS.card_evidence_scale:g} on the log-odds scale" in card
    assert f"counts {PARAMS.bill_evidence_scale:g} on the log-odds scale" in " ".join(rows[1]["moves"])


def test_changed_constants_change_the_text() -> None:
    other = ScoringParams(cost_late_30_59=PARAMS.cost_late_30_59 + 1.5, weight_profile=0.2)
    rows = factors(other)
    assert f"{PARAMS.cost_late_30_59 + 1.5:g} if 30–59" in " ".join(rows[0]["moves"])
    assert rows[3]["max_points"] == round(other.span * 0.2, 1)


def test_bands_cover_the_scale() -> None:
    assert bands() == [
        {"label": "Building", "low": 350, "high": 549},
        {"label": "Fair", "low": 550, "high": 599},
        {"label": "Good", "low": 600, "high": 649},
        {"label": "Very good", "low": 650, "high": 699},
        {"label": "Excellent", "low": 700, "high": 950},
    ]


def test_the_example_payments_count_in_full() -> None:
    assert example_amount() >= PARAMS.amount_full


def test_worked_examples_keep_the_promises_of_the_model() -> None:
    points = {e["history"]: e["points"] for e in worked_examples()}
    prior = round(PARAMS.span * PARAMS.weight_card_repayment * PARAMS.card_prior, 1)
    assert points["No repayments yet"] == prior
    # On time adds, and more on-time history adds more.
    assert prior < points["One repayment on time"] < points["Six monthly repayments on time"]
    assert points["Six monthly repayments on time"] < points["Twelve monthly repayments on time"]
    # Late, partial or missed never adds; a recent late payment costs more than an old one;
    # missed costs more than 45 days late.
    twelve = points["Twelve monthly repayments on time"]
    assert points["Twelve, the latest half paid"] < twelve
    assert points["Twelve, the latest 45 days late"] < points["Twelve, the oldest 45 days late"] < twelve
    assert points["Twelve, the latest missed"] < points["Twelve, the latest 45 days late"]
    assert points["Twelve missed"] < points["Twelve, the latest missed"]


def test_the_api_returns_the_model_card_to_members(api_as, alice) -> None:
    response = api_as(alice).get("/api/v1/score/model/")
    assert response.status_code == 200
    body = response.json()
    assert body == json.loads(json.dumps(model_card()))
    assert body["evaluation"]["bands"] == PUBLISHED["bands"]
    assert body["evaluation"]["buckets"] == PUBLISHED["buckets"]
    assert body["evaluation"]["odds"] == PUBLISHED["odds"]
    assert body["model"] == PUBLISHED["model"]
    assert [a["attribute"] for a in body["fairness"]["attributes"]] == ["sex", "age", "education", "marriage"]
    published_groups = PUBLISHED["fairness"]["groups"]
    assert [g for a in body["fairness"]["attributes"] for g in a["groups"]] == published_groups
    assert "rate_text" not in json.dumps(body)  # the page's display strings stay off the API


def test_the_api_is_for_members_only(api) -> None:
    response = api.get("/api/v1/score/model/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_api_refuses_writes(api_as, alice) -> None:
    response = api_as(alice).post("/api/v1/score/model/", {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_the_openapi_schema_documents_the_model_card(client) -> None:
    schema = yaml.safe_load(client.get("/api/schema/").content)
    operation = schema["paths"]["/api/v1/score/model/"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ModelCard"
    card = schema["components"]["schemas"]["ModelCard"]
    assert set(card["required"]) == {"scale", "factors", "friends", "bands", "examples", "example_amount",
                                      "evaluation", "fairness", "model"}


def test_the_page_for_members(client, alice) -> None:
    client.force_login(alice)
    response = client.get("/score/how-it-works/")
    assert response.status_code == 200
    html = response.content.decode()
    for f in factors():
        assert f"<h3 id=\"factor-{f['name']}\">{f['label']}</h3>" in html
        assert f"<strong>Up to {f['max_points']:.0f} points</strong>" in html
    assert f"Every <strong>{PUBLISHED['odds']['pdo']:.0f} points</strong> double the odds of repaying." in html
    for row in PUBLISHED["bands"]:
        rate = "—" if row["default_rate"] is None else f"{100 * row['default_rate']:.1f}\u00a0%"
        assert f"<span class=\"hint\">{row['low']}&#8288;–&#8288;{row['high']}</span></th>\n" \
               f"        <td class=\"num\">{row['count']:,}</td><td class=\"num\">{rate}</td></tr>" in html
    for caption in ("Who reaches the top two bands", "How well the score ranks each group",
                    "How each group's scores spread"):
        assert f"<caption>{caption}</caption>" in html
    for title in ("Sex", "Age", "Education", "Marital status"):
        assert html.count(f"colspan=\"4\">{title}</th>") == 2
        assert html.count(f"colspan=\"5\">{title}</th>") == 1
    assert PUBLISHED["model"]["params_fingerprint"] in html


def test_the_page_has_no_inline_script_or_style(client, alice) -> None:
    client.force_login(alice)
    html = client.get("/score/how-it-works/").content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert re.findall(r"\sstyle=", html) == []
    assert re.findall(r"\son[a-z]+=", html) == []


def test_the_page_is_for_members_only(client) -> None:
    response = client.get("/score/how-it-works/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_score_page_links_to_it(client, alice) -> None:
    client.force_login(alice)
    assert 'href="/score/how-it-works/"' in client.get("/score/").content.decode()


def test_the_page_flags_groups_below_four_fifths(client, alice) -> None:
    client.force_login(alice)
    html = client.get("/score/how-it-works/").content.decode()
    flagged = [g for g in PUBLISHED["fairness"]["groups"] if g["flagged"]]
    assert html.count('<br><strong class="flag down">below 0.8</strong></td>') == len(flagged)
    context = page_context()
    texts = [g["rate_text"] for a in context["fairness"]["attributes"] for g in a["groups"]]
    assert texts == [f"{100 * g['default_rate']:.1f}\u00a0%" for g in PUBLISHED["fairness"]["groups"]]
