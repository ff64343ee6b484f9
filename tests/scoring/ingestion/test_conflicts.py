"""Ingestion under conflict: an accepted event re-sent with other content is refused with the
stored event (409 ``conflicting_duplicate``), and a lock conflict is retried inside the request —
never answered 5xx."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from config.kernel import retry
from scoring.ingestion import services as ingestion
from scoring.ingestion.models import Event, IdempotencyRecord
from tests.config.kernel.test_transient import deadlock
from tests.scoring.conftest import card_event

pytestmark = pytest.mark.django_db


def test_the_same_event_under_a_new_key_is_a_duplicate(partner_client, alice_consents):
    assert partner_client.post("/api/v1/events/", card_event()).status_code == 201
    again = partner_client.post("/api/v1/events/", card_event())
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_an_accepted_event_sent_again_with_another_amount_is_409_with_the_stored_event(
        partner_client, alice_consents):
    first = partner_client.post("/api/v1/events/", card_event()).json()
    response = partner_client.post("/api/v1/events/", card_event(amount="999.00"))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflicting_duplicate"
    assert "amount" in body["detail"]
    assert body["event"] == {**first, "duplicate": True}
    assert [str(e.amount) for e in Event.objects.all()] == ["120.00"]  # the stored event is unchanged


def test_the_refusal_is_recorded_under_its_key(partner_client, alice_consents):
    partner_client.post("/api/v1/events/", card_event())
    first = partner_client.post("/api/v1/events/", card_event(paid_date="2026-11-20"), idempotency_key="k-1")
    replay = partner_client.post("/api/v1/events/", card_event(paid_date="2026-11-20"), idempotency_key="k-1")
    assert (first.status_code, replay.status_code) == (409, 409)
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()


def test_a_batch_with_one_conflicting_event_stores_nothing_and_names_it(partner_client, alice_consents):
    partner_client.post("/api/v1/events/", card_event(external_id="card-2"))
    batch = {"events": [card_event(external_id="card-1"), card_event(external_id="card-2", amount="5.00"),
                        card_event(external_id="card-3")]}
    response = partner_client.post("/api/v1/events/batch/", batch)
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["index"]) == ("conflicting_duplicate", 1)
    assert body["detail"].startswith("events[1]: ")
    assert body["event"]["external_id"] == "card-2"
    assert sorted(Event.objects.values_list("external_id", flat=True)) == ["card-2"]  # all or nothing


def test_one_event_twice_in_a_batch_with_other_content_is_refused(partner_client, alice_consents):
    batch = {"events": [card_event(), card_event(amount="1.00")]}
    response = partner_client.post("/api/v1/events/batch/", batch)
    assert response.status_code == 409
    assert (response.json()["index"], response.json()["event"]) == (1, None)
    assert not Event.objects.exists()
    # The very same event twice is still stored once.
    assert partner_client.post("/api/v1/events/batch/", {"events": [card_event(), card_event()]}).json()[
        "accepted"] == 1


@pytest.fixture
def flaky_store(monkeypatch):  # type: ignore[no-untyped-def]
    """``events_store`` that meets a deadlock its first ``n`` calls (set ``.n``)."""
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    original = ingestion.events_store

    class Flaky:
        n = 0
        calls = 0

        def __call__(self, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls <= self.n:
                raise deadlock()
            return original(**kwargs)

    flaky = Flaky()
    monkeypatch.setattr(ingestion, "events_store", flaky)
    return flaky


@pytest.mark.django_db(transaction=True)
def test_a_lock_conflict_is_retried_inside_the_request(partner_client, alice_consents, flaky_store):
    flaky_store.n = 2
    response = partner_client.post("/api/v1/events/", card_event())
    assert response.status_code == 201
    assert flaky_store.calls == 3
    assert Event.objects.count() == 1 and IdempotencyRecord.objects.get().state == "done"


@pytest.mark.django_db(transaction=True)
def test_a_lock_conflict_that_outlasts_the_retries_is_409_never_5xx(partner_client, alice_consents, flaky_store):
    flaky_store.n = 100
    response = partner_client.post("/api/v1/events/", card_event(), idempotency_key="busy")
    assert response.status_code == 409 and response.json()["code"] == "lock_conflict"
    assert flaky_store.calls == ingestion.ATTEMPTS
    assert not Event.objects.exists()
    assert not IdempotencyRecord.objects.exists()  # the key is free for the partner's retry
    flaky_store.n = 0
    assert partner_client.post("/api/v1/events/", card_event(), idempotency_key="busy").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_database_that_stays_away_is_503_with_retry_after(partner_client, alice_consents, monkeypatch):
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)

    def away(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("couldn't get a connection after 3.00 sec")

    monkeypatch.setattr(ingestion, "events_store", away)
    response = partner_client.post("/api/v1/events/", card_event())
    assert response.status_code == 503
    assert response["Retry-After"] == "2" and response.json()["code"] == "service_unavailable"
