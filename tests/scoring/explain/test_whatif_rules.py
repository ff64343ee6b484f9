"""The rules a member relies on (DESIGN §3), asked of the what-if endpoint on random histories:
the answer a member gets from the API obeys them as the model does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.ingestion.models import Event
from scoring.ledger import services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)

_HISTORY = st.lists(
    st.tuples(
        st.sampled_from(["card_repayment", "bill_payment", "purchase"]),
        st.integers(min_value=0, max_value=720),  # days before NOW
        st.one_of(st.none(), st.integers(min_value=-5, max_value=150)),  # days late; None = missed
        st.integers(min_value=0, max_value=100_000),  # cents
    ),
    max_size=12,
)
_AMOUNT = st.integers(min_value=1, max_value=200_000).map(lambda cents: str(Decimal(cents) / 100))
_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _store(partner, history):  # type: ignore[no-untyped-def]
    """A new member with this scored history (one per example: the ledger keeps every row)."""
    member = UserFactory()
    for i, (kind, days_ago, late, cents) in enumerate(history):
        at = NOW - timedelta(days=days_ago)
        due: date | None = None if kind == "purchase" else at.date()
        Event.objects.create(
            member=member, partner=partner, external_id=f"{member.username}-{i}", kind=kind,
            amount=Decimal(cents) / 100, currency="EUR", occurred_at=at, due_date=due,
            paid_date=None if due is None or late is None else due + timedelta(days=late),
            missed=due is not None and late is None)
    services.member_score_pending(member_id=member.pk)
    return member


def _delta(client, **scenario) -> int:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/me/score/what-if/", scenario, format="json")
    assert response.status_code == 200, response.content
    return response.json()["delta"]


@_SETTINGS
@given(history=_HISTORY, kind=st.sampled_from(["card_repayment", "bill_payment"]), amount=_AMOUNT,
       days_late=st.integers(min_value=1, max_value=400))
def test_what_if_obeys_the_rules_on_any_history(  # type: ignore[no-untyped-def]
        acme, api_as, history, kind, amount, days_late):
    with time_machine.travel(NOW, tick=False):
        client = api_as(_store(acme, history))
        on_time = _delta(client, kind=kind, amount=amount)
        late = _delta(client, kind=kind, amount=amount, days_late=days_late)
        later = _delta(client, kind=kind, amount=amount, days_late=days_late + 30)
        missed = _delta(client, kind=kind, amount=amount, missed=True)
        very_late = _delta(client, kind=kind, amount=amount, days_late=90)
        purchase = _delta(client, kind="purchase", amount=amount)
    assert on_time >= 0
    assert late <= 0 and missed <= 0
    assert later <= late <= on_time
    assert missed <= very_late
    assert purchase >= 0
