"""The member's side of scoring: score, history, ledger, events, what-if, partners (API + pages)."""

from __future__ import annotations

import pytest

from scoring.ingestion.models import Event, PartnerConsent
from scoring.ledger import services
from scoring.ledger.models import ScoreChange, ScoreState, scoring_date
from scoring.model import band_for, compute_base, total_score
from tests.scoring.ledger.test_pipeline import ALICE_PROFILE, make_event

pytestmark = pytest.mark.django_db


def test_me_score_explains_every_point(api_as, alice, acme):
    make_event(alice, acme, 1, late_days=35)
    services.member_score_pending(member_id=alice.pk)
    body = api_as(alice).get("/api/v1/me/score/").json()
    state = ScoreState.objects.get(member=alice)
    assert body["score"] == state.score and body["band"] == band_for(state.score)
    assert [f["name"] for f in body["factors"]] == [
        "card_repayment_timeliness", "bill_payment_timeliness", "purchase_volume", "profile_completeness"]
    assert [f["weight"] for f in body["factors"]] == [0.35, 0.35, 0.15, 0.15]
    # Every point: 350 + the factor points + social == the score (before rounding).
    assert round(350 + sum(f["points"] for f in body["factors"]) + body["social"]) == body["score"]
    assert body["reasons"], "a late payment must show a reason"
    assert body["reasons"][0]["points_lost"] >= body["reasons"][-1]["points_lost"]
    assert {"code", "factor", "points_lost", "text", "hint"} <= set(body["reasons"][0])


def test_a_new_member_has_a_score_at_once(api_as, bob):
    body = api_as(bob).get("/api/v1/me/score/").json()
    assert body["score"] == total_score(compute_base([], ALICE_PROFILE, as_of=scoring_date()).base, 0.0)


def test_history_and_changes(api_as, alice, acme):
    for n in range(3):
        make_event(alice, acme, n, late_days=n * 20)
    services.member_score_pending(member_id=alice.pk)
    client = api_as(alice)
    history = client.get("/api/v1/me/score/history/").json()["history"]
    assert [h["score"] for h in history] == list(
        ScoreChange.objects.filter(member=alice).order_by("created_at", "id").values_list("new_score", flat=True))
    changes = client.get("/api/v1/me/score/changes/").json()
    assert [c["cause"] for c in changes["results"]] == ["event", "event", "event", "profile"]
    assert changes["results"][0]["explanation"].startswith("Card repayment to Acme Bank 40 days late: ")


def test_what_if_runs_the_model_and_never_writes(api_as, alice, acme):
    make_event(alice, acme, 1)
    services.member_score_pending(member_id=alice.pk)
    client = api_as(alice)
    counts = (Event.objects.count(), ScoreChange.objects.count(), ScoreState.objects.get(member=alice).score)
    on_time = client.post("/api/v1/me/score/what-if/", {"kind": "bill_payment", "amount": "80.00"}, format="json")
    late = client.post("/api/v1/me/score/what-if/", {"kind": "bill_payment", "amount": "80.00", "days_late": 30},
                       format="json")
    assert on_time.status_code == late.status_code == 200
    assert late.json()["simulated"]["score"] < on_time.json()["simulated"]["score"]
    assert on_time.json()["current"]["score"] == counts[2]
    delta = late.json()["delta"]
    assert delta == late.json()["simulated"]["score"] - counts[2]
    points = f"+{delta}" if delta > 0 else (f"−{-delta}" if delta < 0 else "±0")
    assert late.json()["explanation"] == f"Bill payment 30 days late: {points}"
    assert (Event.objects.count(), ScoreChange.objects.count(),
            ScoreState.objects.get(member=alice).score) == counts


def test_what_if_bad_input(api_as, alice):
    client = api_as(alice)
    response = client.post("/api/v1/me/score/what-if/", {"kind": "purchase", "amount": "5", "days_late": 3},
                           format="json")
    assert response.status_code == 400 and response.json()["code"] == "not_for_kind"
    response = client.post("/api/v1/me/score/what-if/", {"kind": "bill_payment", "amount": "-5"}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("amount: ")


def test_my_events_are_mine_only(api_as, alice, bob, acme):
    make_event(alice, acme, 1)
    make_event(bob, acme, 1)
    results = api_as(alice).get("/api/v1/me/events/").json()["results"]
    assert [e["external_id"] for e in results] == ["alice-1-card_repayment"]
    assert results[0]["status"] == "pending" and results[0]["partner"] == "acme"


def test_partners_connect_list_disconnect(api_as, alice, acme):
    client = api_as(alice)
    assert client.get("/api/v1/me/partners/").json() == {
        "connected": [], "available": [{"partner": "acme", "name": "Acme Bank", "connected_at": None}]}
    created = client.post("/api/v1/me/partners/", {"partner": "acme"}, format="json")
    assert created.status_code == 201
    again = client.post("/api/v1/me/partners/", {"partner": "acme"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_connected"
    unknown = client.post("/api/v1/me/partners/", {"partner": "nope"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_partner"
    assert [p["partner"] for p in client.get("/api/v1/me/partners/").json()["connected"]] == ["acme"]
    assert client.delete("/api/v1/me/partners/acme/").status_code == 204
    assert client.delete("/api/v1/me/partners/acme/").status_code == 404
    assert PartnerConsent.objects.get(member=alice).revoked_at is not None
    # Reconnecting after a disconnect is allowed (history kept).
    assert client.post("/api/v1/me/partners/", {"partner": "acme"}, format="json").status_code == 201
    assert PartnerConsent.objects.filter(member=alice).count() == 2


@pytest.mark.parametrize("path", ["/api/v1/me/score/", "/api/v1/me/score/history/", "/api/v1/me/score/changes/",
                                  "/api/v1/me/events/", "/api/v1/me/partners/"])
def test_anonymous_gets_401(api, path):
    response = api.get(path)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_dashboard_and_score_pages(client, alice, acme):
    make_event(alice, acme, 1, missed=True)
    services.member_score_pending(member_id=alice.pk)
    state = ScoreState.objects.get(member=alice)
    client.force_login(alice)
    dashboard = client.get("/dashboard/").content.decode()
    assert f'aria-label="Score {state.score} of 950"' in dashboard
    assert "Card repayment to Acme Bank missed: −" in dashboard
    page = client.get("/score/")
    assert page.status_code == 200 and b'class="history"' in page.content
    simulated = client.post("/score/", {"kind": "card_repayment", "amount": "100", "timing": "30"})
    assert b"Card repayment 30 days late" in simulated.content
    assert ScoreChange.objects.filter(member=alice).count() == 2  # the simulation wrote nothing
    assert client.get("/score/changes/").status_code == 200
    assert b"Acme Bank" in client.get("/score/events/").content


def test_partner_pages(client, alice, acme):
    client.force_login(alice)
    assert b"Acme Bank" in client.get("/partners/").content
    assert client.post("/partners/acme/connect/").status_code == 302
    assert PartnerConsent.objects.filter(member=alice, revoked_at__isnull=True).count() == 1
    assert client.post("/partners/acme/disconnect/").status_code == 302
    assert PartnerConsent.objects.filter(member=alice, revoked_at__isnull=True).count() == 0
    assert client.get("/partners/acme/connect/").status_code == 405
