"""The demo world (``seed_demo``) and the partner simulator (``simulate``), on the real data files."""

from __future__ import annotations

import json
from collections import Counter, deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count

from accounts.members.models import User
from scoring.demo.simulator import run
from scoring.demo.uci import UciRow, load_rows
from scoring.demo.world import (
    DEFAULT_CREDIT,
    DEFAULT_GRAPH,
    DEMO_PARTNERS,
    FRIENDSHIP_AGE,
    HISTORY_DAYS,
    external_id,
    load_graph,
    member_history,
    world_build,
    world_plan,
    world_seed,
)
from scoring.ingestion.models import Event, PartnerConsent, PartnerKey
from scoring.ingestion.partners import partner_key_holds
from scoring.ledger import services
from scoring.ledger.bulk import members_score_pending_bulk
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.moderation.models import Dispute
from social.graph.models import Friendship

SEED = 7
MEMBERS = 60


@pytest.fixture(scope="module")
def graph() -> dict[int, set[int]]:
    return load_graph(DEFAULT_GRAPH)


@pytest.fixture(scope="module")
def rows() -> list[UciRow]:
    return load_rows(DEFAULT_CREDIT)


@pytest.fixture(scope="module")
def plan(graph, rows):  # type: ignore[no-untyped-def]
    return world_plan(graph=graph, rows=rows, members=MEMBERS, seed=SEED)


def _connected(names: set[str], edges: tuple[tuple[str, str], ...]) -> bool:
    adjacency: dict[str, set[str]] = {n: set() for n in names}
    for a, b in edges:
        adjacency[a].add(b)
        adjacency[b].add(a)
    start = next(iter(names))
    seen, queue = {start}, deque([start])
    while queue:
        for other in adjacency[queue.popleft()] - seen:
            seen.add(other)
            queue.append(other)
    return seen == names


# --- the plan (pure) ---------------------------------------------------------------------------------


def test_full_graph_is_the_whole_data_set(graph, rows) -> None:  # type: ignore[no-untyped-def]
    full = world_plan(graph=graph, rows=rows, members=None, seed=SEED)
    assert len(full.nodes) == 4039
    assert len(full.edges) == 88234
    assert len(full.members) == 4040  # + mallory
    assert len(set(full.members)) == 4040
    assert len({row.id for row in full.uci_rows.values()}) == 4040  # each member a distinct UCI row


def test_sample_is_connected_with_exactly_the_edges_among_its_nodes(graph, plan) -> None:  # type: ignore[no-untyped-def]
    assert len(plan.nodes) == MEMBERS
    chosen = set(plan.nodes)
    expected = sum(len(graph[n] & chosen) for n in plan.nodes) // 2
    assert len(plan.edges) == expected
    named = {(plan.usernames[u], plan.usernames[v]) for u in plan.nodes for v in graph[u] & chosen}
    assert set(plan.edges) == {pair for pair in named if pair[0] < pair[1]}
    assert _connected({plan.usernames[n] for n in plan.nodes}, plan.edges)


def test_demo_cast(plan) -> None:  # type: ignore[no-untyped-def]
    friends = plan.demo_friends
    assert {"bob", "carol"} <= set(friends)
    assert len(friends) >= 5
    assert plan.usernames[plan.demo_node] == "alice"
    assert "mallory" in plan.members
    assert all("mallory" not in pair for pair in plan.edges)
    assert plan.members[-1] == "mallory"


def test_same_seed_same_world_other_seed_other_world(graph, rows, plan) -> None:  # type: ignore[no-untyped-def]
    assert world_plan(graph=graph, rows=rows, members=MEMBERS, seed=SEED) == plan
    other = world_plan(graph=graph, rows=rows, members=MEMBERS, seed=SEED + 1)
    assert other.nodes != plan.nodes or other.uci_rows != plan.uci_rows


def test_history_is_twelve_months_up_to_today_and_known_by_now(rows) -> None:  # type: ignore[no-untyped-def]
    today = date(2026, 3, 1)
    now = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)
    for row in rows[:400]:
        history = member_history(row, today=today)
        assert all(now - timedelta(days=HISTORY_DAYS) < f.occurred_at <= now for f in history)
        cards = [f for f in history if f.kind == "card_repayment"]
        assert 9 <= len(cards) <= 11
        for f in history:
            assert f.paid_date is None or f.paid_date <= today
            if f.missed:
                assert f.due_date is not None and (today - f.due_date).days >= 90
        assert len({f.ref for f in history}) == len(history)


def test_history_replays_the_real_months_unchanged(rows) -> None:  # type: ignore[no-untyped-def]
    """Cycle 0 is scoring.demo.uci's mapping of the row itself, only moved in time."""
    from scoring.demo.uci import row_events

    today = date(2026, 3, 1)
    row = next(r for r in rows if max(r.pay_status) <= 2)  # no payment reaches past today
    real = row_events(row, anchor=today - timedelta(days=90))
    cycle0 = [f for f in member_history(row, today=today) if f.ref.endswith("-c0")]
    def key(f, ref):  # type: ignore[no-untyped-def]
        return (ref, f.kind, f.occurred_at, f.amount, f.due_date, f.paid_date, f.amount_paid)

    assert sorted(key(f, f.ref) for f in cycle0) == sorted(key(f, f"{f.ref}-c0") for f in real)


# --- seeding (database) --------------------------------------------------------------------------------


def _world_counts(plan) -> dict[str, int]:  # type: ignore[no-untyped-def]
    members = User.objects.filter(username__in=plan.members)
    return {
        "members": members.count(),
        "friendships": Friendship.objects.filter(member_a__in=members).count(),
        "events": Event.objects.filter(member__in=members).count(),
        "ledger": ScoreChange.objects.filter(member__in=members).count(),
        "states": ScoreState.objects.filter(member__in=members).count(),
        "consents": PartnerConsent.objects.filter(member__in=members).count(),
    }


@pytest.fixture
def seeded(db, plan, tmp_path):  # type: ignore[no-untyped-def]
    partners_file = tmp_path / "demo-partners.json"
    report = world_seed(plan, partners_file=partners_file, progress=False)
    return report, partners_file


def test_seed_creates_exactly_the_planned_world(plan, seeded) -> None:  # type: ignore[no-untyped-def]
    report, _ = seeded
    today = datetime.now(UTC).date()
    planned = {
        external_id(name, fact): (name, fact)
        for name in plan.members for fact in member_history(plan.uci_rows[name], today=today)
    }
    counts = _world_counts(plan)
    ledger = ScoreChange.objects.filter(member__username__in=plan.members)
    assert counts == {
        "members": MEMBERS + 1,
        "friendships": len(plan.edges),
        "events": len(planned),
        # one per event, each member's starting score, time passing, friend contagion
        "ledger": len(planned) + MEMBERS + 1 + report.ageing_rows + report.contagion_moved,
        "states": MEMBERS + 1,
        "consents": 3 * (MEMBERS + 1),
    }
    assert Counter(ledger.values_list("cause", flat=True)) == {
        "event": len(planned), "profile": MEMBERS + 1, "ageing": report.ageing_rows,
        "contagion": report.contagion_moved}
    assert report.ageing_rows > MEMBERS
    assert (report.members, report.friendships, report.events, report.ledger_rows) == (
        MEMBERS + 1, len(plan.edges), len(planned), counts["ledger"])

    stored = {
        e.external_id: e for e in Event.objects.filter(member__username__in=plan.members).select_related("member")
    }
    assert set(stored) == set(planned)
    for ext, (name, fact) in planned.items():
        event = stored[ext]
        assert (event.member.username, event.kind, event.amount, event.occurred_at, event.due_date,
                event.paid_date, event.missed, event.amount_paid) == (
            name, fact.kind, fact.amount, fact.occurred_at, fact.due_date, fact.paid_date, fact.missed,
            fact.amount_paid)
        assert event.status == Event.Status.SCORED


def test_every_member_has_a_year_of_events_and_a_score(plan, seeded) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for member in User.objects.filter(username__in=plan.members):
        events = Event.objects.filter(member=member)
        oldest = min(e.occurred_at for e in events)
        newest = max(e.occurred_at for e in events)
        assert timedelta(days=300) <= now - oldest <= timedelta(days=HISTORY_DAYS)  # reaches back a year
        assert now - newest <= timedelta(days=95)  # and up to the last months
        assert events.filter(kind="card_repayment").count() >= 9
        state = ScoreState.objects.get(member=member)
        assert member.score == state.score
        assert 350 <= state.score <= 950


def test_every_event_has_exactly_one_ledger_row(plan, seeded) -> None:  # type: ignore[no-untyped-def]
    members = User.objects.filter(username__in=plan.members)
    per_event = Counter(
        ScoreChange.objects.filter(member__in=members, cause="event").values_list("event_id", flat=True)
    )
    event_ids = set(Event.objects.filter(member__in=members).values_list("pk", flat=True))
    assert set(per_event) == event_ids
    assert set(per_event.values()) == {1}


def test_friendships_are_vested_and_the_demo_member_has_friends(plan, seeded) -> None:  # type: ignore[no-untyped-def]
    from social.graph.selectors import friend_ids

    alice = User.objects.get(username="alice")
    names = set(User.objects.filter(pk__in=friend_ids(member_id=alice.pk)).values_list("username", flat=True))
    assert names == set(plan.demo_friends)
    assert {"bob", "carol"} <= names
    mallory = User.objects.get(username="mallory")
    assert friend_ids(member_id=mallory.pk) == set()
    now = datetime.now(UTC)
    for accepted_at in Friendship.objects.filter(member_a__username__in=plan.members).values_list(
        "accepted_at", flat=True
    ):
        assert accepted_at + settings.CONTAGION_VESTING <= now
        assert abs((now - accepted_at) - FRIENDSHIP_AGE) < timedelta(minutes=5)
    assert alice.check_password("credo-demo-pass")
    assert not User.objects.get(username=next(n for n in plan.members if n.startswith("fb"))).has_usable_password()


def test_profiles_have_varied_completeness(plan, seeded) -> None:  # type: ignore[no-untyped-def]
    from accounts.members.selectors import profile_completeness

    filled = Counter(
        profile_completeness(user=u).filled for u in User.objects.filter(username__in=plan.members)
    )
    assert len(filled) >= 3  # some members fill everything, others little


def test_seeding_twice_changes_nothing(plan, seeded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, partners_file = seeded
    before = _world_counts(plan)
    keys_before = json.loads(partners_file.read_text())["partners"]
    # Through world_build, the command's path: the data files are read and planned again.
    _, again = world_build(members=MEMBERS, seed=SEED, partners_file=partners_file, progress=False)
    assert _world_counts(plan) == before
    assert (again.members_created, again.friendships_created, again.events_created, again.events_scored) == (0, 0, 0, 0)
    assert json.loads(partners_file.read_text())["partners"] == keys_before  # live keys are kept


def test_partners_file_holds_live_keys(seeded) -> None:  # type: ignore[no-untyped-def]
    _, partners_file = seeded
    data = json.loads(Path(partners_file).read_text())
    assert {p["slug"] for p in data["partners"]} == {p.slug for p in DEMO_PARTNERS}
    for entry in data["partners"]:
        key = PartnerKey.objects.get(key_id=entry["key_id"], revoked_at__isnull=True)
        assert partner_key_holds(key=key, secret=entry["secret"])


def _ledger_snapshot(plan) -> dict[str, object]:  # type: ignore[no-untyped-def]
    members = User.objects.filter(username__in=plan.members)
    ledger = list(
        ScoreChange.objects.filter(member__in=members).order_by("member_id", "id").values_list(
            "member__username", "cause", "event__external_id", "old_score", "new_score", "old_base", "new_base",
            "old_social", "new_social", "old_factors", "new_factors", "explanation",
        )
    )
    states = sorted(ScoreState.objects.filter(member__in=members).values_list(
        "member__username", "base", "social", "score", "factors"))
    users = sorted(members.values_list("username", "score", "score_band"))
    events = sorted(Event.objects.filter(member__in=members).values_list("external_id", "status", "attempts"))
    return {"ledger": ledger, "states": states, "users": users, "events": events}


def _unscore(members) -> None:  # type: ignore[no-untyped-def]
    ScoreChange.objects.filter(member__in=members).delete()
    ScoreState.objects.filter(member__in=members).delete()
    Event.objects.filter(member__in=members).update(status=Event.Status.PENDING, scored_at=None, attempts=0)
    members.update(score=None, score_band="", score_reached_at=None)


def test_bulk_scoring_writes_what_the_per_member_path_writes(plan, seeded) -> None:  # type: ignore[no-untyped-def]
    """The seeded world's events, all scored at once today: in batches and member by member."""
    members = User.objects.filter(username__in=plan.members)
    _unscore(members)
    members_score_pending_bulk(member_ids=members.values_list("pk", flat=True), announce=False)
    bulk = _ledger_snapshot(plan)
    _unscore(members)
    for member_id in members.order_by("pk").values_list("pk", flat=True):
        services.member_score_pending(member_id=member_id)
    per_member = _ledger_snapshot(plan)
    assert len(bulk["ledger"]) == len(per_member["ledger"]) > 1000  # type: ignore[arg-type]
    assert bulk == per_member


# --- the simulator ---------------------------------------------------------------------------------------


def _stream(rows, seed: int):  # type: ignore[no-untyped-def]
    from scoring.demo.simulator import EventStream, SimMember

    members = [SimMember(f"fb{i}", row) for i, row in enumerate(rows[:50])] + [SimMember("alice", rows[50])]
    return EventStream(members=members, friends=["fb1", "fb2", "fb3"], demo_member="alice", seed=seed, run_id="x")


def test_simulated_events_are_repeatable_and_valid_for_the_api(rows) -> None:  # type: ignore[no-untyped-def]
    from scoring.ingestion.services import EventSerializer

    # 300 events over ten months: a member pays one card statement and one bill a month.
    start = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    nows = [start + timedelta(days=i) for i in range(300)]
    first = [_stream(rows, seed=5).next(now=start) for _ in range(1)]
    one, two = _stream(rows, seed=5), _stream(rows, seed=5)
    a = [one.next(now=now) for now in nows]
    b = [two.next(now=now) for now in nows]
    assert a == b and a[0] == first[0]
    assert a != [_stream(rows, seed=6).next(now=now) for now in nows]
    per_month = Counter((p["member"], kind, now.month) for (kind, p, _), now in zip(a, nows, strict=True)
                        if kind != "purchase")
    assert max(per_month.values()) == 1
    for _, payload, _ in a:
        serializer = EventSerializer(data=payload)
        assert serializer.is_valid(), (payload, serializer.errors)
    kinds = Counter(kind for kind, _, _ in a)
    assert set(kinds) == {"purchase", "card_repayment", "bill_payment"}
    members = Counter(payload["member"] for _, payload, _ in a)
    near_alice = sum(members[name] for name in ("alice", "fb1", "fb2", "fb3"))
    assert near_alice > 300 * 0.3  # biased toward the demo member's board
    assert any(p.get("missed") for _, p, _ in a)
    assert any("late" in description for _, _, description in a)


# --- the simulator against a live server ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_simulator_sends_signed_events_that_are_accepted_and_scored(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    partners_file = tmp_path / "demo-partners.json"
    plan, _ = world_build(members=30, seed=SEED, partners_file=partners_file, progress=False)
    lines: list[str] = []
    report = run(url=live_server.url, partners_file=partners_file, rate=50, count=8, seed=3, run_id="t1",
                 every=4, write=lines.append)
    assert (report.sent, report.accepted, report.rejected, report.failed) == (8, 8, 0, 0), report.line()
    sent = Event.objects.filter(external_id__startswith="sim-t1-").select_related("member")
    assert sent.count() == 8
    assert set(sent.values_list("status", flat=True)) == {Event.Status.SCORED}
    rows = ScoreChange.objects.filter(event__in=sent, cause="event").values("event").annotate(n=Count("id"))
    assert sorted(r["n"] for r in rows) == [1] * 8
    near_alice = set(plan.demo_friends) | {"alice"}
    assert any(e.member.username in near_alice for e in sent)  # the demo member's board moves
    assert len([line for line in lines if "sent:" in line]) == 3  # every 4 events, and the end

    # The same run again: the same members and kinds under the same Idempotency-Keys, but sent
    # at another moment (occurred_at is "now"), so the server refuses the reused keys — and
    # nothing is stored twice either way.
    replay = run(url=live_server.url, partners_file=partners_file, rate=50, count=8, seed=3, run_id="t1",
                 every=0, write=lines.append)
    assert replay.accepted == 0
    assert replay.duplicates + replay.codes["idempotency_key_reused"] == 8
    assert Event.objects.filter(external_id__startswith="sim-t1-").count() == 8


@pytest.mark.django_db(transaction=True)
def test_simulated_partners_receive_webhooks_and_answer_disputes(live_server, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    """Members of the world dispute now and then; each partner hears of it on its webhook (a real
    receiver, signatures verified) and answers over the signed API: the loop runs end to end."""
    settings.WEBHOOKS_ALLOW_LOCAL = True  # the partners' receiver listens on the loopback
    partners_file = tmp_path / "demo-partners.json"
    world_build(members=30, seed=SEED, partners_file=partners_file, progress=False)
    lines: list[str] = []
    report = run(url=live_server.url, partners_file=partners_file, rate=50, count=12, seed=3, run_id="t2",
                 every=0, write=lines.append, dispute_every=2)
    desk = report.disputes
    assert desk is not None and any("partners receive webhooks at http://127.0.0.1:" in line for line in lines), lines
    assert (desk.opened, sum(desk.answers.values()), dict(desk.refused)) == (6, 6, {}), desk.line()
    answered = Dispute.objects.exclude(partner_verdict="")
    assert answered.count() == 6
    for dispute in answered.select_related("event"):
        expected = {"withdrawn": ("accepted", "reversed"), "confirmed": ("open", "scored"),
                    "corrected": ("corrected", "scored")}[dispute.partner_verdict]
        assert (dispute.status, dispute.event.status) == expected, dispute.partner_verdict
        assert dispute.steps.filter(by="partner").count() == 1
    assert desk.resolved == answered.exclude(status="open").count()  # dispute.resolved came back for each
    assert "disputes: 6 opened, answered" in lines[-1]
