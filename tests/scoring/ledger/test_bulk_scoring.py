"""The batch scorer (``scoring.ledger.bulk``, behind ``members_score_pending`` and the periodic
``score_dirty_members``): it writes exactly what the per-member path writes, in a number of
statements that does not grow with the batch, and tells the streak badges who paid on time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.members.models import User
from config.kernel import bulk_sql
from scoring.ingestion.models import Event, Partner
from scoring.ledger import bulk, services
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.ledger.signals import bases_changed
from scoring.ledger.streaks import Payment, may_be_on_time
from tests.factories import UserFactory
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = pytest.mark.django_db


def _snapshot(members: list[User]) -> dict[str, object]:
    """Everything the scorers write about these members, timestamps left out."""
    ledger = list(ScoreChange.objects.filter(member__in=members).order_by("member__username", "created_at", "id")
                  .values_list("member__username", "cause", "event__external_id", "old_score", "new_score",
                               "old_base", "new_base", "old_social", "new_social", "old_factors", "new_factors",
                               "explanation"))
    states = sorted(ScoreState.objects.filter(member__in=members).values_list(
        "member__username", "base", "social", "score", "factors"))
    users = sorted(User.objects.filter(pk__in=[m.pk for m in members]).values_list("username", "score", "score_band"))
    events = sorted(Event.objects.filter(member__in=members).values_list("external_id", "status", "attempts"))
    return {"ledger": ledger, "states": states, "users": users, "events": events}


@pytest.fixture
def world(acme):  # type: ignore[no-untyped-def]
    """Five members whose profiles and histories reach every branch the batch reads in its own
    way: e-mail verified as typed, verified in another case, not verified, no e-mail at all;
    filled and blank (whitespace) profile fields; two partners; on-time, late, missed, partial
    and purchase events; one member with a score already and older scored events."""
    other = Partner.objects.create(name="Other Bank", slug="other")
    exact = UserFactory(username="exact", phone="+31 6 1234", city="Utrecht", bio="hi")
    cased = UserFactory(username="cased", verified=False, city="   ", bio="  ")
    EmailAddress.objects.filter(user=cased).update(email="CASED@Example.com", verified=True)
    unverified = UserFactory(username="unverified", verified=False, phone="   ")
    no_email = UserFactory(username="noemail")
    User.objects.filter(pk=no_email.pk).update(email="")
    veteran = UserFactory(username="veteran", avatar="avatars/v.png")
    members = [exact, cased, unverified, no_email, veteran]
    for i, member in enumerate(members):
        make_event(member, acme, 1)
        make_event(member, other, 2, late_days=12 + i)
        make_event(member, acme, 3, missed=True)
        make_event(member, other, 4, kind="purchase")
        partial = make_event(member, acme, 5)
        Event.objects.filter(pk=partial.pk).update(amount_paid=Decimal("40.00"))
    # The veteran was scored before: a state, and two events long scored.
    make_event(veteran, acme, 0, status=Event.Status.SCORED)
    make_event(veteran, other, -1, late_days=40, status=Event.Status.SCORED)
    services.member_state_ensure(member=veteran)
    return [User.objects.get(pk=m.pk) for m in members]


def test_a_batch_writes_exactly_what_scoring_one_member_at_a_time_writes(world):
    ids = [m.pk for m in world]
    with transaction.atomic():
        batch_applied = bulk.members_score_pending_bulk(member_ids=ids)
        batch = _snapshot(world)
        transaction.set_rollback(True)
    one_by_one = sum(services.member_score_pending(member_id=pk) for pk in sorted(ids))
    assert batch_applied == one_by_one == 25
    assert _snapshot(world) == batch
    assert ScoreChange.objects.filter(member__username="veteran", cause="profile").count() == 1
    # The profiles were read as the per-member path reads them: e-mail verified only for
    # "exact" (as typed) and "cased" (another case: the database's own comparison decides).
    starting = dict(ScoreChange.objects.filter(cause="profile").values_list("member__username", "explanation"))
    assert starting == {
        "exact": "Starting score: no payment history yet, profile 4 of 5 complete",
        "cased": "Starting score: no payment history yet, profile 1 of 5 complete",
        "unverified": "Starting score: no payment history yet, profile 0 of 5 complete",
        "noemail": "Starting score: no payment history yet, profile 0 of 5 complete",
        "veteran": "Starting score: no payment history yet, profile 2 of 5 complete",
    }


def _batch_statements(members: list[User]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        bulk.members_score_pending_bulk(member_ids=[m.pk for m in members], announce=False)
    # An ``executemany`` is logged as "<n> times: <sql>".
    return [q["sql"].split(" times: ", 1)[-1].split()[0].upper() for q in queries.captured_queries]


def test_a_batch_costs_the_same_statements_for_3_or_30_members(acme):
    def members(prefix: str, n: int) -> list[User]:
        out = [UserFactory(username=f"{prefix}{i:02d}") for i in range(n)]
        for member in out:
            services.member_state_ensure(member=member)
            make_event(member, acme, 1)
            make_event(member, acme, 2, late_days=3)
        return out

    few, many = _batch_statements(members("few", 3)), _batch_statements(members("many", 30))
    assert few == many
    # Reads: members (locked), states, partners, e-mails, pending events, scored events, partners
    # listening for event.scored (none here: no webhook is written); writes: ledger rows, changed
    # states, moved members, applied events.
    assert len(few) == 11 + 2  # + the transaction's own statements (SAVEPOINT or BEGIN / COMMIT)


def test_rows_update_writes_each_row_by_its_key_and_nothing_else(alice, bob):
    for member in (alice, bob):
        ScoreState.objects.create(member=member, base=600.0, social=0.0, score=600, factors={"a": 0.5})
    at = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    with CaptureQueriesContext(connection) as queries:
        bulk_sql.rows_update(ScoreState, key="member", fields=("base", "factors", "updated_at"),
                             rows=[(612.25, {"a": 0.75, "b": None}, at, alice.pk)])
    assert len(queries) == 1
    alice_state, bob_state = ScoreState.objects.get(member=alice), ScoreState.objects.get(member=bob)
    assert (alice_state.base, alice_state.social, alice_state.score, alice_state.factors, alice_state.updated_at) == (
        612.25, 0.0, 600, {"a": 0.75, "b": None}, at)
    assert (bob_state.base, bob_state.factors) == (600.0, {"a": 0.5})
    with CaptureQueriesContext(connection) as queries:
        bulk_sql.rows_update(ScoreState, key="member", fields=("base",), rows=[])
    assert len(queries) == 0


def test_a_row_of_the_wrong_length_is_refused(alice):
    ScoreState.objects.create(member=alice, base=600.0, social=0.0, score=600, factors={})
    with pytest.raises(ValueError):
        bulk_sql.rows_update(ScoreState, key="member", fields=("base", "score"), rows=[(601.0, alice.pk)])
    assert ScoreState.objects.get(member=alice).base == 600.0


def test_verified_e_mails_take_one_query_unless_an_address_differs_from_the_e_mail(world):
    by_name = {m.username: m for m in world}
    with CaptureQueriesContext(connection) as queries:
        verified = bulk._verified([by_name["exact"], by_name["unverified"], by_name["noemail"]])
    assert (verified, len(queries)) == ({by_name["exact"].pk}, 1)
    with CaptureQueriesContext(connection) as queries:
        verified = bulk._verified(world)
    # "cased" has a verified address that differs from the e-mail in case: asked like before.
    assert (verified, len(queries)) == ({by_name["exact"].pk, by_name["cased"].pk, by_name["veteran"].pk}, 2)
    EmailAddress.objects.filter(user=by_name["cased"]).update(email="someone-else@example.com")
    assert bulk._verified(world) == {by_name["exact"].pk, by_name["veteran"].pk}


# --- who paid on time: the streak badges' hint ------------------------------------------------------


@pytest.mark.parametrize(("kind", "due", "paid", "missed", "amount_paid", "expected"), [
    ("card_repayment", date(2026, 3, 10), date(2026, 3, 10), False, None, True),
    ("bill_payment", date(2026, 3, 10), date(2026, 3, 2), False, Decimal("100.00"), True),
    ("card_repayment", date(2026, 3, 10), date(2026, 3, 11), False, None, False),
    ("bill_payment", date(2026, 3, 10), None, True, None, False),
    ("card_repayment", date(2026, 3, 10), date(2026, 3, 1), False, Decimal("99.99"), False),
    ("card_repayment", None, date(2026, 3, 1), False, None, True),
    ("purchase", None, None, False, None, False),
])
def test_may_be_on_time_agrees_with_the_streak_s_definition(kind, due, paid, missed, amount_paid, expected):
    amount = Decimal("100.00")
    assert may_be_on_time(kind=kind, due_date=due, paid_date=paid, missed=missed, amount=amount,
                          amount_paid=amount_paid) is expected
    if kind != "purchase":
        payment = Payment(due_date=due, paid_day=None if missed else paid, missed=missed, amount=amount,
                          amount_paid=amount_paid)
        assert payment.on_time is expected


def test_without_a_paid_date_a_payment_may_be_on_time_whatever_the_zone():
    # Its payment day is the member's local date of occurred_at: it cannot be ruled out here.
    assert may_be_on_time(kind="bill_payment", due_date=date(2026, 3, 10), paid_date=None, missed=False,
                          amount=Decimal("5.00"), amount_paid=None) is True


@pytest.fixture
def bases_sent():  # type: ignore[no-untyped-def]
    sent: list[dict[str, object]] = []

    def receiver(sender, **kwargs):  # type: ignore[no-untyped-def]
        sent.append({"member_ids": kwargs["member_ids"], "payments_on_time": kwargs.get("payments_on_time")})

    bases_changed.connect(receiver, weak=False, dispatch_uid="test_bulk_scoring")
    yield sent
    bases_changed.disconnect(dispatch_uid="test_bulk_scoring")


def test_a_batch_names_the_members_who_paid_on_time(acme, bases_sent, django_capture_on_commit_callbacks):
    punctual, late, shopper = (UserFactory(username=name) for name in ("punctual", "late", "shopper"))
    for member in (punctual, late, shopper):
        services.member_state_ensure(member=member)
    make_event(punctual, acme, 1)
    make_event(punctual, acme, 2, late_days=20)
    make_event(late, acme, 1, late_days=3)
    make_event(late, acme, 2, missed=True)
    make_event(shopper, acme, 1, kind="purchase")
    bases_sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.members_score_pending(member_ids=[punctual.pk, late.pk, shopper.pk])
    assert bases_sent == [{"member_ids": sorted([punctual.pk, late.pk, shopper.pk]),
                           "payments_on_time": [punctual.pk]}]


def test_a_starting_score_names_the_member_only_if_a_scored_payment_was_on_time(
        acme, bases_sent, django_capture_on_commit_callbacks):
    newcomer, returning = UserFactory(username="newcomer"), UserFactory(username="returning")
    make_event(returning, acme, 1, status=Event.Status.SCORED)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_state_ensure(member=newcomer)
        services.member_state_ensure(member=returning)
    assert bases_sent == [{"member_ids": [newcomer.pk], "payments_on_time": []},
                          {"member_ids": [returning.pk], "payments_on_time": [returning.pk]}]


def test_one_member_s_events_name_them_if_one_was_on_time(alice, acme, bases_sent,
                                                          django_capture_on_commit_callbacks):
    services.member_state_ensure(member=alice)
    make_event(alice, acme, 1, late_days=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_score_pending(member_id=alice.pk)
    make_event(alice, acme, 2)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_score_pending(member_id=alice.pk)
    assert bases_sent == [{"member_ids": [alice.pk], "payments_on_time": []},
                          {"member_ids": [alice.pk], "payments_on_time": [alice.pk]}]


def test_a_rescore_does_not_know_and_says_so(alice, acme, bases_sent, django_capture_on_commit_callbacks):
    make_event(alice, acme, 1, late_days=30, status=Event.Status.SCORED)
    services.member_state_ensure(member=alice)
    Event.objects.filter(member=alice).update(status=Event.Status.REVERSED)
    bases_sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.member_rescore(member_id=alice.pk, cause=ScoreChange.Cause.MODERATION, explanation="Reversed")
    # A reversed late payment can lengthen a streak: None, every member may have one.
    assert bases_sent == [{"member_ids": [alice.pk], "payments_on_time": None}]


# --- the periodic scorer -------------------------------------------------------------------------


class _FakeSet:
    """``dirty.members_take`` over a list, with members arriving while a batch is scored."""

    def __init__(self, waiting: list[int], arriving: list[int] | None = None) -> None:
        self.waiting, self.arriving, self.batches = list(waiting), list(arriving or []), []

    def take(self, limit: int) -> list[int]:
        taken, self.waiting = self.waiting[:limit], self.waiting[limit:]
        return taken

    def score(self, *, member_ids: list[int]) -> int:
        self.batches.append(list(member_ids))
        self.waiting.extend(self.arriving)
        self.arriving = []
        return len(member_ids)


def test_a_tick_scores_a_trickle_once_and_leaves_later_arrivals_for_the_next(monkeypatch):
    from scoring.ingestion import dirty
    from scoring.ledger import tasks

    fake = _FakeSet([1, 2, 3], arriving=[4])
    monkeypatch.setattr(dirty, "members_take", fake.take)
    monkeypatch.setattr(services, "members_score_pending", fake.score)
    assert tasks.score_dirty_members() == 3
    assert fake.batches == [[1, 2, 3]]
    assert fake.waiting == [4]  # queued during the batch: the next tick takes it
    assert tasks.score_dirty_members() == 1
    assert tasks.score_dirty_members() == 0
    assert fake.batches == [[1, 2, 3], [4]]


def test_a_tick_takes_a_backlog_in_full_batches_until_it_is_drained(monkeypatch):
    from scoring.ingestion import dirty
    from scoring.ledger import tasks

    fake = _FakeSet([1, 2, 3, 4, 5])
    monkeypatch.setattr(dirty, "BATCH", 2)
    monkeypatch.setattr(dirty, "members_take", fake.take)
    monkeypatch.setattr(services, "members_score_pending", fake.score)
    assert tasks.score_dirty_members() == 5
    assert fake.batches == [[1, 2], [3, 4], [5]]


def test_a_tick_stops_at_its_deadline_even_with_a_backlog(monkeypatch):
    from scoring.ingestion import dirty
    from scoring.ledger import tasks

    fake = _FakeSet([1, 2, 3, 4, 5])
    monkeypatch.setattr(dirty, "BATCH", 2)
    monkeypatch.setattr(dirty, "members_take", fake.take)
    monkeypatch.setattr(services, "members_score_pending", fake.score)
    assert tasks.score_dirty_members(seconds=0.0) == 0
    assert fake.waiting == [1, 2, 3, 4, 5]


def test_scored_events_get_their_time_and_one_more_attempt(alice, acme):
    services.member_state_ensure(member=alice)
    event = make_event(alice, acme, 1)
    Event.objects.filter(pk=event.pk).update(attempts=2)
    before = timezone.now()
    bulk.members_score_pending_bulk(member_ids=[alice.pk, alice.pk + 10_000], announce=False)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Event.Status.SCORED, 3)
    assert event.scored_at is not None and before <= event.scored_at <= timezone.now() + timedelta(seconds=1)
