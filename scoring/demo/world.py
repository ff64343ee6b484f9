"""The demo world behind ``manage.py seed_demo``: real friends, real payment histories.

Members and friendships come from the real SNAP ego-Facebook graph, payment behaviour from the
real UCI credit-card data set (both in ``settings.CREDO_DATA_DIR``; see its README), and every
event is scored by the production scoring code, so the ledger a visitor browses is an honest one.

**The world** (``world_plan``: pure, no database, a function of its arguments only)

* *Members*: the whole graph (4,039 nodes, 88,234 edges), or a connected sample of ``members``
  nodes taken breadth-first from a start node drawn with the seeded generator; friendships are
  the graph's edges among the sampled nodes. Node ``n`` is the member ``fb<n>``, except three:
  the demo member **alice** plays a well-connected node (the highest degree in the sample, at
  most ``DEMO_MAX_FRIENDS``, so her friends board stays readable) and **bob** and **carol** two
  of her friends. **mallory** joins as a stranger: a member with a history and no friends.
* *Profiles* have varied completeness (each field filled with its own probability); only whether
  a field is filled ever counts (DESIGN §2.1).
* *Payment behaviour*: each member gets a distinct UCI row, sampled with the seeded generator;
  the demo member gets the first spare sampled row with a statement every month, no idle month
  and no default, so the demo login shows a lively file.

**Twelve months of history from one UCI row** (``member_history``). ``scoring.demo.uci.row_events``
turns a row into its five repayment months (May..September 2005) plus purchases; it can shift
them by whole days (``anchor``). The history replays that five-month pattern as a cycle over
the past year:

* cycle 0 is the real data, its September due date placed ``RECENT_DUE_DAYS`` (90) days before
  today; cycle 1 is the same five months again, ``CYCLE_DAYS`` (153, April 15 to September 15)
  earlier; cycle −1 carries the pattern forward into the last three months. Every event dated
  within the last 365 days (``HISTORY_DAYS``) is kept: 9 to 11 monthly card statements (11 for
  nine members in ten), their bills and the months' purchases, up to today.
* A partner reports a repayment once its outcome is known. One whose payment would fall after
  today is reported ``missed`` if it is already 90+ days overdue — the model scores "missed"
  and "90+ days late" alike, so this changes no score — and is not reported yet otherwise
  (only possible in the forward months: placing the real September 90 days back is what keeps
  every real month's lateness intact).
* ``external_id`` = ``demo-<username>-<uci ref>-c<cycle>``: stable whatever the day, which makes
  seeding idempotent (an event already stored is never stored again).

**Seeding** (``world_seed``; idempotent: re-running adds only what is missing, by username,
canonical friendship pair and (partner, external_id))

* members, profiles and verified emails are bulk-created (seeded members have no usable
  password; the demo accounts keep theirs);
* friendships are bulk-created directly as ``social.graph.models.Friendship`` rows, accepted
  ``FRIENDSHIP_AGE`` (30 days) ago so they have vested for contagion. This is a seeding
  shortcut: ``social.graph.services`` would also close friend requests and send ``friendship_started``
  per pair, which nothing needs for a world built at once. Contagion is rebuilt afterwards by
  ``manage.py contagion_rebuild`` (printed as the next step);
* three partners — Acme Bank (card repayments), CityPower (bill payments), ShopMart (purchases)
  — with every member's consent; fresh signing keys are written to a local JSON file
  (``.demo-partners.json`` next to ``manage.py``, git-ignored) for ``manage.py simulate``;
* events are bulk-created ``pending``, each received (``Event.received_at``) when its partner
  would have reported it (``reported_at``: a purchase when made, a repayment when paid, a missed
  one once 90 days overdue), and the year is then replayed at those moments by
  ``scoring.ledger.replay`` — the rows the live pipeline would have written had the events
  arrived one by one: each member's starting score on the day they joined (``date_joined``, up to
  ``JOINED_BEFORE_HISTORY_DAYS`` before their year starts: "member since" is real), one row per
  event dated when it was received and scored on that date, and what time changed
  (``AGEING`` rows) on the ageing passes, every ``AGEING_EVERY_DAYS`` days (the live task runs
  daily: the same scores, in fewer steps, for the time budget of the whole graph). The
  replay stops a second before this week opens (Monday 00:00 UTC, as the boards' seasons),
  rebuilds friend contagion then (the seeded friendships have vested by then) and dates its rows
  at that moment, last week's, then replays this week up to now. So the ledger, the score history chart and the
  weekly board read as if the members had lived the year: the board holds only what this week
  brought. Nothing is announced: ``seed_demo`` then rebuilds contagion once more and sends
  ``scoring.demo.signals.world_seeded``, on which leaderboards award the badges the year earned,
  dated when they were earned, and enter this week's movers on the weekly board.

Re-running with the same options is a no-op apart from a fresh key only where the saved one is
no longer live. Re-running with other options adds the new members, friendships and events to
the world (nothing is ever deleted or duplicated).

Known limits: card repayments of idle months carry amount 0.00, as ``scoring.demo.uci`` maps them,
which the partner API would refuse (amounts must be > 0); friend contagion enters the ledger when
this week opens, not over the year (the friendships are ``FRIENDSHIP_AGE`` old); perk grants and
their notifications are dated at the seeding.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from io import BytesIO
from pathlib import Path
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from PIL import Image
from tqdm import tqdm

from accounts.members.demo import demo_accounts_ensure
from accounts.members.models import User
from config.kernel.bulk_sql import rows_insert
from config.kernel.chunks import chunks
from scoring.contagion.services import contagion_rebuild
from scoring.demo.uci import DEFAULT_ANCHOR, MONTHS, UciRow, load_rows, row_events
from scoring.ingestion.models import Event, Partner, PartnerConsent, PartnerKey
from scoring.ingestion.partners import partner_key_holds, partner_key_issue
from scoring.ledger.models import ScoreChange
from scoring.ledger.replay import members_replay, pending_members
from scoring.model.factors import BILL_PAYMENT, PURCHASE, EventFact, lateness_bucket
from social.graph.models import Friendship, ordered_pair

DEFAULT_GRAPH = settings.CREDO_DATA_DIR / "facebook_combined.txt"
DEFAULT_CREDIT = settings.CREDO_DATA_DIR / "uci_credit_card.csv"
DEFAULT_SEED = 2005

#: The five-month UCI pattern repeats every 153 days (April 15 to September 15 2005).
CYCLE_DAYS = (DEFAULT_ANCHOR - DEFAULT_ANCHOR.replace(month=MONTHS[0])).days
#: Cycles replayed: 0 the real months, 1 the 153 days before, −1 the months after (up to today).
CYCLES = (-1, 0, 1)
#: The real September due date lands this many days before today.
RECENT_DUE_DAYS = 90
HISTORY_DAYS = 365
#: Members joined up to this many days before their replayed year starts (at least one).
JOINED_BEFORE_HISTORY_DAYS = 30
#: Days between two replayed ageing passes (the live task runs daily; see ``scoring.ledger.replay``).
AGEING_EVERY_DAYS = 91
#: The replay's first stretch ends this long before this week opens (``_replay``).
LAST_WEEK_ENDS_BEFORE = timedelta(seconds=1)
#: Seeded friendships were accepted this long ago, so they have vested (settings.CONTAGION_VESTING).
FRIENDSHIP_AGE = timedelta(days=30)
#: The demo member plays the best-connected node with at most this many friends.
DEMO_MAX_FRIENDS = 100
DEMO_MEMBER = "alice"
#: Spare UCI rows drawn to find the demo member a lively history (see ``world_plan``).
DEMO_ROW_CANDIDATES = 50
DEMO_FRIENDS = ("bob", "carol")
DEMO_STRANGER = "mallory"
EMAIL_DOMAIN = "demo.credo.local"
CURRENCY = "EUR"
#: A payment this many days overdue whose outcome is still in the future is reported missed
#: (the model's last lateness bucket: missed and 90+ days late score alike).
MISSED_AFTER_DAYS = 90
#: The time of day (UTC) a partner reports a payment.
REPORT_TIME = dt_time(12, 0)
#: Rows per bulk statement of the seeding (members and ids per ``IN (…)``, friendships, events).
MEMBERS_PER_STATEMENT = 500
FRIENDSHIPS_PER_STATEMENT = 1000
EVENTS_PER_STATEMENT = 2000


@dataclass(frozen=True)
class DemoPartner:
    name: str
    slug: str
    kind: str  # the event kind this partner sends


DEMO_PARTNERS = (
    DemoPartner("Acme Bank", "acme-bank", "card_repayment"),
    DemoPartner("CityPower", "citypower", "bill_payment"),
    DemoPartner("ShopMart", "shopmart", "purchase"),
)
PARTNER_FOR_KIND = {p.kind: p for p in DEMO_PARTNERS}

# Profile fields are filled with these probabilities (content never counts, only filled-ness).
PROFILE_ODDS = {"email_verified": 0.85, "city": 0.7, "phone": 0.55, "bio": 0.4, "avatar": 0.3}
GLOBAL_BOARD_ODDS = 0.6
CITIES = ("Lisbon", "Porto", "Madrid", "Valencia", "Lyon", "Ghent", "Utrecht", "Bologna", "Kraków",
          "Tallinn", "Cork", "Graz", "Aarhus", "Brno", "Turin", "Seville")
BIOS = ("Saving for a bike.", "Coffee first.", "Learning the cello.", "Weekend hiker.",
        "Paying it forward.", "Board games and long walks.", "New in town.", "Always on time.")
AVATAR_COLOURS = ("#2f6f4f", "#8a3b12", "#1f4e79", "#7a1f5c", "#5b5b12", "#125b5b")


# --- the plan: pure, deterministic -----------------------------------------------------------------


def load_graph(path: str | Path) -> dict[int, set[int]]:
    """The undirected graph of an edge list (``u v`` per line) as adjacency sets."""
    adjacency: dict[int, set[int]] = {}
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) < 2:
                continue
            u, v = int(parts[0]), int(parts[1])
            if u == v:
                continue
            adjacency.setdefault(u, set()).add(v)
            adjacency.setdefault(v, set()).add(u)
    return adjacency


def sample_connected(adjacency: dict[int, set[int]], size: int | None, rng: random.Random) -> list[int]:
    """``size`` nodes reached breadth-first from a seeded start node (neighbours in id order),
    sorted; every node when ``size`` is None or at least the graph's size. Connected whenever
    the start node's component has ``size`` nodes (SNAP's graph is one component)."""
    nodes = sorted(adjacency)
    if size is None or size >= len(nodes):
        return nodes
    start = rng.choice(nodes)
    seen = {start}
    order = [start]
    queue = deque([start])
    while queue and len(order) < size:
        for neighbour in sorted(adjacency[queue.popleft()]):
            if neighbour not in seen:
                seen.add(neighbour)
                order.append(neighbour)
                if len(order) == size:
                    break
                queue.append(neighbour)
    return sorted(order)


@dataclass(frozen=True)
class Profile:
    email_verified: bool
    phone: str
    city: str
    bio: str
    avatar: str
    on_global_board: bool
    joined_days_ago: int


@dataclass(frozen=True)
class WorldPlan:
    """Who is in the world, who is friends with whom, and which UCI row each member replays.

    ``usernames``: node → username; ``edges``: friendships as username pairs (sorted);
    ``members``: every member's username, graph nodes first then the stranger.
    """

    seed: int
    nodes: tuple[int, ...]
    usernames: dict[int, str]
    edges: tuple[tuple[str, str], ...]
    demo_node: int
    members: tuple[str, ...]
    uci_rows: dict[str, UciRow]
    profiles: dict[str, Profile]
    demo_accounts: tuple[str, ...] = field(default=(DEMO_MEMBER, *DEMO_FRIENDS, DEMO_STRANGER))

    @property
    def demo_friends(self) -> list[str]:
        return sorted(b if a == DEMO_MEMBER else a for a, b in self.edges if DEMO_MEMBER in (a, b))


def _profile(username: str, rng: random.Random) -> Profile:
    filled = {name: rng.random() < odds for name, odds in PROFILE_ODDS.items()}
    return Profile(
        email_verified=filled["email_verified"],
        # 07700 900000-900999: Ofcom's range reserved for drama, never a real number.
        phone=f"+44 7700 900{rng.randrange(1000):03d}" if filled["phone"] else "",
        city=rng.choice(CITIES) if filled["city"] else "",
        bio=rng.choice(BIOS) if filled["bio"] else "",
        avatar=f"avatars/demo/avatar-{rng.randrange(len(AVATAR_COLOURS))}.png" if filled["avatar"] else "",
        on_global_board=rng.random() < GLOBAL_BOARD_ODDS,
        joined_days_ago=HISTORY_DAYS + rng.randrange(1, JOINED_BEFORE_HISTORY_DAYS + 1),
    )


def world_plan(
    *, graph: dict[int, set[int]], rows: list[UciRow], members: int | None = None, seed: int = DEFAULT_SEED
) -> WorldPlan:
    """The demo world for ``seed``: the same arguments always give the same world."""
    rng = random.Random(seed)
    nodes = sample_connected(graph, members, rng)
    chosen = set(nodes)
    degree = {n: len(graph[n] & chosen) for n in nodes}
    # The best-connected node with a readable friends board (ties: the lowest id).
    candidates = [n for n in nodes if 2 <= degree[n] <= DEMO_MAX_FRIENDS] or nodes
    demo_node = max(candidates, key=lambda n: (degree[n], -n))
    usernames = {n: f"fb{n}" for n in nodes}
    usernames[demo_node] = DEMO_MEMBER
    neighbours = sorted(graph[demo_node] & chosen, key=lambda n: (-degree[n], n))
    for name, node in zip(DEMO_FRIENDS, neighbours, strict=False):
        usernames[node] = name
    edges = sorted(
        tuple(sorted((usernames[u], usernames[v])))
        for u in nodes for v in graph[u] if v in chosen and u < v
    )
    names = [usernames[n] for n in nodes] + [DEMO_STRANGER]
    picked = rng.sample(range(len(rows)), len(names) + DEMO_ROW_CANDIDATES)
    uci_rows = {name: rows[i] for name, i in zip(names, picked, strict=False)}
    # The demo login should show a lively file: the first spare row that has a statement every
    # month, never idles (PAY >= -1) and did not default. Everyone else is whatever they drew.
    spare = [rows[i] for i in picked[len(names):]]
    lively = [r for r in spare if min(r.pay_status) >= -1 and min(r.bill) > 0 and not r.default]
    # Better still, one who pays every bill in full on time: her on-time streak then runs.
    in_full = [r for r in lively if max(r.pay_status) <= -1 and all(
        f.amount_paid is None or f.amount_paid >= f.amount for f in row_events(r) if f.kind == BILL_PAYMENT)]
    if in_full or lively:
        uci_rows[DEMO_MEMBER] = (in_full or lively)[0]
    profiles = {name: _profile(name, rng) for name in names}
    return WorldPlan(
        seed=seed, nodes=tuple(nodes), usernames=usernames, edges=tuple((a, b) for a, b in edges),
        demo_node=demo_node, members=tuple(names), uci_rows=uci_rows, profiles=profiles,
    )


def member_history(row: UciRow, *, today: date) -> list[EventFact]:
    """Twelve months of events up to ``today`` from one UCI row (see the module docstring).

    ``ref`` of each fact is ``<uci ref>-c<cycle>``; oldest first.
    """
    recent_due = today - timedelta(days=RECENT_DUE_DAYS)
    now = datetime.combine(today, datetime.max.time(), tzinfo=UTC)
    start = now - timedelta(days=HISTORY_DAYS)
    history: list[EventFact] = []
    for cycle in CYCLES:
        anchor = recent_due - timedelta(days=CYCLE_DAYS * cycle)
        for fact in row_events(row, anchor=anchor):
            if not start < fact.occurred_at <= now:
                continue
            if fact.kind != PURCHASE and fact.paid_date is not None and fact.paid_date > today:
                assert fact.due_date is not None
                overdue = (today - fact.due_date).days
                if overdue < MISSED_AFTER_DAYS:
                    continue  # the outcome is not known yet: nothing to report
                # Scored exactly like the late payment it will be (both are the 90+ bucket).
                assert lateness_bucket(None) == lateness_bucket((fact.paid_date - fact.due_date).days)
                fact = replace(fact, paid_date=None, missed=True)
            history.append(replace(fact, ref=f"{fact.ref}-c{cycle}"))
    history.sort(key=lambda f: (f.occurred_at, f.ref))
    return history


def reported_at(fact: EventFact, *, now: datetime) -> datetime:
    """When a partner reports ``fact`` (what ``Event.received_at`` says), never after ``now``:
    a purchase when it is made; a repayment when it is paid (the payment day at noon, UTC), a
    missed one when it becomes ``MISSED_AFTER_DAYS`` overdue — never before the obligation
    itself (``occurred_at``, its due date)."""
    if fact.kind == PURCHASE:
        at = fact.occurred_at
    elif fact.paid_date is not None:
        at = max(fact.occurred_at, datetime.combine(fact.paid_date, REPORT_TIME, tzinfo=UTC))
    else:
        assert fact.due_date is not None
        due = datetime.combine(fact.due_date + timedelta(days=MISSED_AFTER_DAYS), REPORT_TIME, tzinfo=UTC)
        at = max(fact.occurred_at, due)
    return min(at, now)


def external_id(username: str, fact: EventFact) -> str:
    return f"demo-{username}-{fact.ref}"


# --- seeding: the database -------------------------------------------------------------------------


@dataclass
class SeedReport:
    members: int = 0
    members_created: int = 0
    friendships: int = 0
    friendships_created: int = 0
    events: int = 0
    events_created: int = 0
    events_scored: int = 0
    ledger_rows: int = 0
    ageing_rows: int = 0
    contagion_moved: int = 0
    #: The moment the world was seeded for (its "today").
    now: datetime = field(default_factory=timezone.now)
    demo_member: str = DEMO_MEMBER
    demo_friends: int = 0
    partners_file: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def _progress(enabled: bool) -> Callable[..., Any]:
    if not enabled:
        return lambda iterable, **kwargs: iterable
    return tqdm


def avatars_ensure() -> None:
    """The few shared demo avatar images (tiny PNGs), written once to the default storage."""
    for i, colour in enumerate(AVATAR_COLOURS):
        name = f"avatars/demo/avatar-{i}.png"
        if default_storage.exists(name):
            continue
        buffer = BytesIO()
        Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
        default_storage.save(name, ContentFile(buffer.getvalue()))


def _members_ensure(
    plan: WorldPlan, *, now: datetime, report: SeedReport, progress: Callable[..., Any]
) -> dict[str, int]:
    demo_accounts_ensure()
    existing = dict(User.objects.filter(username__in=plan.members).values_list("username", "pk"))
    fresh = []
    for username in plan.members:
        if username in existing:
            continue
        p = plan.profiles[username]
        user = User(
            username=username, email=f"{username}@{EMAIL_DOMAIN}", phone=p.phone, city=p.city, bio=p.bio,
            avatar=p.avatar, on_global_board=p.on_global_board,
            date_joined=now - timedelta(days=p.joined_days_ago),
        )
        user.set_unusable_password()
        fresh.append(user)
    with transaction.atomic():
        for chunk in progress(list(chunks(fresh, MEMBERS_PER_STATEMENT)), desc="members",
                              unit=f"×{MEMBERS_PER_STATEMENT}", disable=not fresh):
            User.objects.bulk_create(chunk)
        ids = dict(User.objects.filter(username__in=plan.members).values_list("username", "pk"))
        # The demo accounts exist already (demo_accounts_ensure): give them the world's profile
        # while they have no score yet — later, a profile change must go through rescoring.
        unscored = set(
            User.objects.filter(username__in=plan.demo_accounts, score_state__isnull=True)
            .values_list("username", flat=True)
        ) - {u.username for u in fresh}
        for username in sorted(unscored & set(plan.members)):
            p = plan.profiles[username]
            full = username == DEMO_MEMBER  # the demo login shows a complete profile
            User.objects.filter(username=username).update(
                phone=p.phone or ("+44 7700 900123" if full else ""), city=p.city or ("Lisbon" if full else ""),
                bio=p.bio or ("Here for the demo." if full else ""),
                avatar=p.avatar or ("avatars/demo/avatar-0.png" if full else ""),
                date_joined=now - timedelta(days=p.joined_days_ago),
            )
        verified = [
            EmailAddress(user_id=ids[u.username], email=u.email, verified=True, primary=True)
            for u in fresh if plan.profiles[u.username].email_verified
        ]
        EmailAddress.objects.bulk_create(verified, batch_size=MEMBERS_PER_STATEMENT)
    report.members = len(plan.members)
    report.members_created = len(fresh)
    return ids


def _friendships_ensure(plan: WorldPlan, ids: dict[str, int], *, now: datetime, report: SeedReport,
                        progress: Callable[..., Any]) -> None:
    pairs = [ordered_pair(ids[a], ids[b]) for a, b in plan.edges]
    member_ids = sorted(ids.values())
    existing: set[tuple[int, int]] = set()
    for chunk in chunks(member_ids, MEMBERS_PER_STATEMENT):
        existing.update(
            Friendship.objects.active().filter(member_a_id__in=chunk).values_list("member_a_id", "member_b_id")
        )
    accepted_at = now - FRIENDSHIP_AGE
    fresh = [
        Friendship(member_a_id=a, member_b_id=b, via=Friendship.Via.REQUEST, accepted_at=accepted_at)
        for a, b in pairs if (a, b) not in existing
    ]
    with transaction.atomic():
        for chunk in progress(list(chunks(fresh, FRIENDSHIPS_PER_STATEMENT)), desc="friendships",
                              unit=f"×{FRIENDSHIPS_PER_STATEMENT}", disable=not fresh):
            Friendship.objects.bulk_create(chunk)
    report.friendships = len(pairs)
    report.friendships_created = len(fresh)


def _partners_ensure(partners_file: Path) -> dict[str, Any]:
    """The demo partners and a live signing key for each, written to ``partners_file``.

    A key already in the file is kept while it is still live and decrypts to the same secret;
    otherwise a fresh one is issued (rotation revokes the oldest beyond two).
    """
    saved: dict[str, dict[str, str]] = {}
    if partners_file.exists():
        try:
            saved = {p["slug"]: p for p in json.loads(partners_file.read_text())["partners"]}
        except (ValueError, KeyError, TypeError):
            saved = {}
    out = []
    for demo in DEMO_PARTNERS:
        partner, _ = Partner.objects.get_or_create(slug=demo.slug, defaults={"name": demo.name})
        if not partner.is_active:
            Partner.objects.filter(pk=partner.pk).update(is_active=True)
        entry = saved.get(demo.slug)
        key = None
        if entry:
            key = PartnerKey.objects.filter(partner=partner, key_id=entry.get("key_id", ""),
                                            revoked_at__isnull=True).first()
        if key is not None and entry and partner_key_holds(key=key, secret=entry.get("secret", "")):
            key_id, secret = key.key_id, entry["secret"]
        else:
            issued = partner_key_issue(partner=partner)
            key_id, secret = issued.key_id, issued.secret
        out.append({"name": demo.name, "slug": demo.slug, "kind": demo.kind, "key_id": key_id, "secret": secret})
    payload = {
        "note": "Demo partners' signing secrets, written by manage.py seed_demo for manage.py simulate. "
                "Local only: never commit.",
        "database": str(settings.DATABASES["default"]["NAME"]),
        "demo_member": DEMO_MEMBER,
        "partners": out,
    }
    partners_file.write_text(json.dumps(payload, indent=2) + "\n")
    partners_file.chmod(0o600)
    return payload


def _consents_ensure(ids: dict[str, int]) -> None:
    partners = list(Partner.objects.filter(slug__in=[p.slug for p in DEMO_PARTNERS]))
    member_ids = sorted(ids.values())
    with transaction.atomic():
        for partner in partners:
            have: set[int] = set()
            for chunk in chunks(member_ids, MEMBERS_PER_STATEMENT):
                have.update(PartnerConsent.objects.filter(partner=partner, member_id__in=chunk,
                                                          revoked_at__isnull=True).values_list("member_id", flat=True))
            PartnerConsent.objects.bulk_create(
                [PartnerConsent(member_id=m, partner=partner) for m in member_ids if m not in have],
                batch_size=FRIENDSHIPS_PER_STATEMENT
            )


def _events_ensure(plan: WorldPlan, ids: dict[str, int], *, now: datetime, report: SeedReport,
                   progress: Callable[..., Any]) -> None:
    today = now.astimezone(UTC).date()
    partner_ids = dict(Partner.objects.filter(slug__in=[p.slug for p in DEMO_PARTNERS]).values_list("slug", "pk"))
    existing: set[str] = set()
    member_ids = sorted(ids.values())
    for chunk in chunks(member_ids, MEMBERS_PER_STATEMENT):
        existing.update(
            Event.objects.filter(member_id__in=chunk, external_id__startswith="demo-")
            .values_list("external_id", flat=True)
        )
    fresh: list[Event] = []
    total = 0
    for username in progress(plan.members, desc="histories", unit="member"):
        for fact in member_history(plan.uci_rows[username], today=today):
            total += 1
            ext = external_id(username, fact)
            if ext in existing:
                continue
            fresh.append(Event(
                member_id=ids[username], partner_id=partner_ids[PARTNER_FOR_KIND[fact.kind].slug],
                external_id=ext, kind=fact.kind, amount=fact.amount, amount_paid=fact.amount_paid,
                currency=CURRENCY, occurred_at=fact.occurred_at, due_date=fact.due_date,
                paid_date=fact.paid_date, missed=fact.missed, status=Event.Status.PENDING,
                received_at=reported_at(fact, now=now),
            ))
    with transaction.atomic():
        for chunk in progress(list(chunks(fresh, EVENTS_PER_STATEMENT)), desc="events",
                              unit=f"×{EVENTS_PER_STATEMENT}", disable=not fresh):
            # received_at as the partner reported it (bulk_create would stamp it now).
            rows_insert(Event, chunk)
    report.events = total
    report.events_created = len(fresh)


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of ``moment``'s week: where the boards' weekly seasons start."""
    day = moment.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), dt_time(0), tzinfo=UTC)


def _contagion_at(moment: datetime, member_ids: Sequence[int]) -> int:
    """Rebuild friend contagion now and date the ledger rows it writes for ``member_ids`` at
    ``moment`` — their histories were replayed up to ``moment`` and no further, so nothing of
    theirs comes after it yet. Returns how many of their displayed scores moved."""
    last = ScoreChange.objects.aggregate(last=Max("pk"))["last"] or 0
    contagion_rebuild(announce=False)
    moved = 0
    for chunk in chunks(sorted(member_ids), MEMBERS_PER_STATEMENT):
        rows = ScoreChange.objects.filter(pk__gt=last, cause=ScoreChange.Cause.CONTAGION, member_id__in=chunk)
        moved += rows.update(created_at=moment)
        User.objects.filter(pk__in=rows.values("member_id")).update(score_reached_at=moment)
    return moved


def _replay(ids: dict[str, int], *, now: datetime, report: SeedReport, progress: bool) -> None:
    """Score every pending event of the world's members at the moment it was reported, and age
    their scores as the weeks pass (``scoring.ledger.replay``), in two stretches: up to the
    end of last week, when friend contagion is rebuilt (the seeded friendships have vested
    by then), and on to ``now``. So the ledger before this week reads as the live pipeline would
    have written it, and this week holds only what happened this week. Nothing is announced;
    ``seed_demo`` rebuilds contagion once more and derives badges and boards afterwards."""
    todo = pending_members(member_ids=sorted(ids.values()))
    if not todo:
        return
    # The last moment of last week: what happens then is not this week's (the boards count rows
    # dated from Monday 00:00 on).
    week = week_start(now) - LAST_WEEK_ENDS_BEFORE
    bar = tqdm(total=2 * len(todo), desc="replay", unit="member") if progress else None
    try:
        first = members_replay(member_ids=todo, until=week, ageing_days=AGEING_EVERY_DAYS, progress=bar)
        if first.members:
            report.contagion_moved = _contagion_at(week, sorted(todo))
        second = members_replay(member_ids=todo, until=now, ageing_days=AGEING_EVERY_DAYS, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    report.events_scored = first.events + second.events
    report.ageing_rows = first.ageing_rows + second.ageing_rows


def world_seed(
    plan: WorldPlan, *, partners_file: Path, now: datetime | None = None, progress: bool = True
) -> SeedReport:
    """Create (or complete) ``plan`` in the database. Idempotent; see the module docstring."""
    now = now or timezone.now()
    bar = _progress(progress)
    report = SeedReport(now=now)
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        report.timings[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    avatars_ensure()
    ids = _members_ensure(plan, now=now, report=report, progress=bar)
    lap("members")
    _friendships_ensure(plan, ids, now=now, report=report, progress=bar)
    lap("friendships")
    _partners_ensure(partners_file)
    _consents_ensure(ids)
    report.partners_file = str(partners_file)
    lap("partners")
    _events_ensure(plan, ids, now=now, report=report, progress=bar)
    lap("events")
    _replay(ids, now=now, report=report, progress=progress)
    lap("replay")
    member_ids = sorted(ids.values())
    report.ledger_rows = sum(
        ScoreChange.objects.filter(member_id__in=chunk).count() for chunk in chunks(member_ids, MEMBERS_PER_STATEMENT)
    )
    report.demo_friends = len(plan.demo_friends)
    return report


def world_build(
    *, members: int | None = None, seed: int = DEFAULT_SEED, graph_path: str | Path = DEFAULT_GRAPH,
    credit_path: str | Path = DEFAULT_CREDIT, partners_file: Path | None = None, now: datetime | None = None,
    progress: bool = True,
) -> tuple[WorldPlan, SeedReport]:
    """Plan the world from the data files and seed it (the ``seed_demo`` command)."""
    plan = world_plan(graph=load_graph(graph_path), rows=load_rows(credit_path), members=members, seed=seed)
    report = world_seed(plan, partners_file=partners_file or default_partners_file(), now=now, progress=progress)
    return plan, report


def default_partners_file() -> Path:
    return Path(settings.BASE_DIR) / ".demo-partners.json"
