"""Friend contagion, wired to the database: base changes, friendship changes, social points.

The engine (``scoring.contagion.engine``) keeps s within ε/(1−α) of the fixed point; this module
decides *when* it runs and turns its output into members' social points, scores and ledger rows:

* members' bases moved → ``contagion_bases_sync`` (folds d = base − the neutral base in,
  pushes; ``contagion_backlog_sync`` adds the members other tasks queued in services mode);
* a friendship ended, or a member entered/left private mode → ``contagion_edges_sync`` for the
  pairs concerned; friendships that vested are picked up by the periodic ``contagion_tick``;
* residuals left above ε (a push that ran out of budget at a hub) wait in the table and are
  cleared by ``contagion_tick`` (a bounded push, or the batched global solve when large).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.members.models import User
from config.kernel import locks
from config.kernel.bulk_sql import bulk_cursor, rows_update
from scoring.contagion import backlog
from scoring.contagion.db_store import (
    DbStore,
    edges_rebuild,
    lock_for_rebuild,
    nodes_ensure,
    nodes_ensure_for_scored,
    nodes_read_for_rebuild,
    nodes_write_absolute,
    pairs_difference,
    pairs_read,
)
from scoring.contagion.engine import (
    Delta,
    Params,
    PropagationReport,
    StaleState,
    base_set,
    bases_set,
    fold_edge_added,
    fold_edge_removed,
    propagate,
    reconcile,
    social_points,
)
from scoring.contagion.models import ContagionEdge, ContagionGraph, ContagionNode
from scoring.contagion.solve import build_graph, graph_residuals, solve_graph
from scoring.ledger import follow_up
from scoring.ledger.models import EXPLANATION_MAX_LENGTH, ScoreChange, ScoreState
from scoring.ledger.rows import format_points
from scoring.ledger.services import member_state_ensure
from scoring.model import PARAMS as MODEL
from scoring.model import band_for, total_score
from social.graph.models import Friendship
from social.graph.selectors import friendships_active_for_contagion

logger = logging.getLogger(__name__)

# An edge diff larger than this is applied by the rebuild (one solve) instead of edge by edge.
EDGE_DIFF_REBUILD_THRESHOLD = 1_000
NEUTRAL_BASE = MODEL.contagion_neutral_base  # d = base − NEUTRAL_BASE (DESIGN.md §3)
# α, λ, C and ε are the model's (``ScoringParams``), the push budget the engine's (edge visits
# per call: it keeps a hub's push cheaper than a global solve, §11). A scoring batch that moves
# the bases of ≥ 0.5 % of all members is applied by one warm-started global solve over the
# worker's cached adjacency instead of pushes (docs/benchmarks.md).
PARAMS = Params(solve_share=0.005)
# Stored social points follow λ·s to within this (points): the dashboard shows one decimal, and
# skipping smaller moves spares a write for most members a push touches. The displayed score is
# always exact (a change of the rounded score is always written).
SOCIAL_WRITE_STEP = 0.01
# Above this many members with residuals over ε, the tick runs the global solve instead of pushes.
BACKLOG_SOLVE_THRESHOLD = 2_000
# The tick re-checks friendships that vested this long before its last run (a late commit).
TICK_MARGIN = timedelta(minutes=5)
# The tick looks for points a crashed worker left unwritten at most this often (one scan of all
# members), so they are right again within about HEAL_EVERY + one tick.
HEAL_EVERY = timedelta(seconds=30)
HEAL_KEY = "contagion:points-heal"
# Contagion ledger rows per INSERT (a rebuild may write one for most members).
LEDGER_ROWS_PER_INSERT = 2_000
#: How far the social points members are shown may lie from the exact fixed point (points): the
#: engine's bound λ·ε/(1−α) (0.05) plus the write step (stored points follow λ·s to within it).
POINTS_BOUND = PARAMS.lam * PARAMS.error_bound + SOCIAL_WRITE_STEP


def _cause_text(member_id: int) -> str:
    """"bob: Bill payment to CityPower 30 days late" from the member's latest ledger row."""
    row = ScoreChange.objects.filter(member_id=member_id).select_related("member").first()
    if row is None:
        return ""
    text = row.explanation.rsplit(": ", 1)[0] if ": " in row.explanation else row.explanation
    return f"{row.member.username}: {text}"


def _ensure_members(ids: Iterable[int]) -> None:
    """Contagion rows for these members, with their base folded in."""
    missing = sorted(nodes_ensure(ids))
    if not missing:
        return
    with_state = set(ScoreState.objects.filter(member_id__in=missing).values_list("member_id", flat=True))
    for member in User.objects.filter(pk__in=[i for i in missing if i not in with_state]):
        member_state_ensure(member=member)
    store = DbStore()
    for member_id, base in ScoreState.objects.filter(member_id__in=missing).values_list("member_id", "base"):
        base_set(store, member_id, base - NEUTRAL_BASE, PARAMS)


def contagion_bases_sync(*, member_ids: Iterable[int]) -> int:
    """Fold these members' current bases into the contagion state and move their friends'
    points — one call per scoring batch, not per member.

    Members without friends in the contagion graph need no push: their d moves in one bulk
    statement (version-checked like any write); the others go through the engine together
    (``bases_set``: one push wave for all, or — for ≥ ``PARAMS.solve_share`` of all members — one
    warm-started global solve over the worker's cached adjacency). Returns how many members'
    social signal moved. Clears the members' ``base`` follow-up marks it saw (the ledger's
    outbox): a sync that fails leaves them for the sweeper, which announces them again.
    """
    ids = sorted(set(member_ids))
    marks = follow_up.bases_pending(member_ids=ids)  # before the bases are read: see bases_followed
    _ensure_members(ids)
    bases = dict(ScoreState.objects.filter(member_id__in=ids).values_list("member_id", "base"))
    nodes = {m: (d, deg, version) for m, d, deg, version in
             ContagionNode.objects.filter(member_id__in=ids).values_list("member_id", "d", "deg", "version")}
    loners: dict[int, tuple[float, int]] = {}
    social: list[int] = []
    for member_id in ids:
        if member_id not in bases or member_id not in nodes:
            continue
        d, deg, version = nodes[member_id]
        target = bases[member_id] - NEUTRAL_BASE
        if target == d:
            continue
        if deg == 0:
            loners[member_id] = (target - d, version)
        else:
            social.append(member_id)
    if loners:
        try:
            DbStore().apply({m: Delta(dd=dd) for m, (dd, _) in loners.items()}, {m: v for m, (_, v) in loners.items()})
        except StaleState:
            social.extend(loners)  # someone befriended them meanwhile: take the engine's path
    moved = 0
    if social:
        report = bases_set(DbStore(), {m: bases[m] - NEUTRAL_BASE for m in social}, PARAMS)
        _settle(report, _cause_text(social[0]) if len(social) == 1 else "Your friends' payments")
        moved = len(report.changes)
    # Folded in, friends' points written: the scoring batch's follow-up is done.
    follow_up.bases_followed(marks)
    return moved


def contagion_backlog_sync(*, member_ids: Iterable[int]) -> int:
    """``contagion_bases_sync`` for these members and, in services mode, every member other
    scoring batches queued meanwhile (``backlog.members_take``): a worker that fell behind folds
    the backlog in as one batch, and the tasks behind it find their members done."""
    ids = set(member_ids)
    if settings.SERVICES_MODE:
        ids.update(backlog.members_take())
    return contagion_bases_sync(member_ids=sorted(ids))


def _pairs_of(member_ids: Iterable[int]) -> Q:
    ids = list(member_ids)
    return Q(member_a_id__in=ids) | Q(member_b_id__in=ids)


def contagion_edges_sync(*, members: Iterable[int] | None = None, explanation: str = "") -> PropagationReport:
    """Make the applied edges equal the social graph's contagion edges
    (``friendships_active_for_contagion``): the difference between the two sets, each pair
    checked again under its locks when it is applied (``_edge_sync``), so the sync is idempotent.

    ``members`` limits the work to friendships of those members; None checks every edge.
    """
    now = timezone.now()
    desired_qs = friendships_active_for_contagion(now=now)
    current_qs = ContagionEdge.objects.all()
    if members is not None:
        ids = sorted(set(members))
        desired_qs = desired_qs.filter(_pairs_of(ids))
        current_qs = current_qs.filter(_pairs_of(ids))
    desired = set(desired_qs.values_list("member_a_id", "member_b_id"))
    current = set(current_qs.values_list("member_a_id", "member_b_id"))
    to_add, to_remove = sorted(desired - current), sorted(current - desired)
    report = PropagationReport()
    if not to_add and not to_remove:
        return report
    if len(to_add) + len(to_remove) > EDGE_DIFF_REBUILD_THRESHOLD:
        # Cheaper as one solve than edge by edge (a bulk load, a long outage of the tick).
        contagion_rebuild()
        return report
    _ensure_members({m for pair in to_add for m in pair})
    store = DbStore()
    for a, b in [*to_remove, *to_add]:
        report.merge(_edge_sync(store, a, b))
    _settle(report, explanation or "Your friends changed")
    return report


def _edge_sync(store: DbStore, a: int, b: int) -> PropagationReport:
    """Bring one pair's applied edge in step with the social graph, both read under the pair's
    contagion row locks: of two tasks racing for the same change, the second finds it applied
    and does nothing (no "already linked"), and a task that read the graph before a change
    cannot apply the stale difference after it. Then push from both members."""
    with transaction.atomic():
        locks.rows_lock(ContagionNode, [a, b], level=locks.CONTAGION)
        want = friendships_active_for_contagion(now=timezone.now()).filter(member_a_id=a, member_b_id=b).exists()
        have = ContagionEdge.objects.filter(member_a_id=a, member_b_id=b).exists()
        if want == have:
            return PropagationReport()
        fold = fold_edge_added(PARAMS.alpha) if want else fold_edge_removed(PARAMS.alpha)
        store.change_edge(a, b, add=want, fold=fold)
    report = propagate(store, (a, b), PARAMS)
    report.round_trips += 1
    return report


def contagion_tick() -> dict[str, int]:
    """Periodic (every few seconds in services mode): new vested edges, the residual backlog,
    then — every ``HEAL_EVERY`` — the points a crashed worker left unwritten (``social_points_heal``).

    Vesting is a matter of time passing, so the tick looks only at friendships whose vesting
    moment (or scheduled end) fell since the last tick (``ContagionGraph.vested_through``, minus
    a margin for late commits); the first tick compares the whole graph. Friendships that end
    or members who change their privacy are applied by their own ``contagion_edges_sync`` task,
    and the nightly rebuild re-derives every edge.
    """
    now = timezone.now()
    since = ContagionGraph.objects.filter(pk=1).values_list("vested_through", flat=True).first()
    explanation = "A friendship started to count"
    if since is None:
        edges = contagion_edges_sync(explanation=explanation)
    else:
        start = since - TICK_MARGIN
        vesting = settings.CONTAGION_VESTING
        due = Friendship.objects.filter(Q(accepted_at__gt=start - vesting, accepted_at__lte=now - vesting)
                                        | Q(ended_at__gt=start, ended_at__lte=now))
        members = {m for pair in due.values_list("member_a_id", "member_b_id") for m in pair}
        edges = contagion_edges_sync(members=members, explanation=explanation) if members else PropagationReport()
    ContagionGraph.objects.update_or_create(pk=1, defaults={"vested_through": now})
    eps = PARAMS.eps
    backlog = list(
        ContagionNode.objects.filter(Q(r__gt=eps) | Q(r__lt=-eps)).values_list("member_id", flat=True)[
            : BACKLOG_SOLVE_THRESHOLD + 1
        ]
    )
    solved = 0
    if len(backlog) > BACKLOG_SOLVE_THRESHOLD:
        report = reconcile(DbStore(), PARAMS)
        solved = 1
    elif backlog:
        report = propagate(DbStore(), backlog, PARAMS)
    else:
        report = PropagationReport()
    _settle(report, "Your friends' scores moved")
    healed = social_points_heal() if _heal_due() else 0
    return {"edges_changed": len(edges.changes), "backlog": len(backlog), "global_solve": solved,
            "points_healed": healed}


def _settle(report: PropagationReport, explanation: str) -> None:
    """Write the social points the engine moved; clear a budget overflow at once when cheap."""
    if report.overflow and not settings.SERVICES_MODE:
        # Embedded mode has no periodic tick: run the batched global solve now (small graphs).
        report.merge(reconcile(DbStore(), PARAMS))
    if report.changes:
        social_points_write(member_ids=report.changes.keys(), explanation=explanation)


def social_points_write(*, member_ids: Iterable[int], explanation: str, announce: bool = True) -> int:
    """Copy clamp(λ·s) into members' score states; a ledger row where the shown score moved.

    Set-based (a rebuild touches every member): only the members whose stored points are off by
    ``SOCIAL_WRITE_STEP`` or whose shown score moves are locked — members, then their score
    states, the house's one lock order (``config.kernel.locks``), as scoring takes them — read
    again and written back in bulk. ``s`` is read *after* the locks: a worker whose push lands
    later writes its own points after ours, so the last write follows the latest ``s``; and a
    worker that died between its push and its points write leaves a drift that
    ``social_points_heal`` (the tick) finds. The moved scores are recorded in the ledger's outbox
    in the same transaction and announced with ONE ``scores_changed`` after commit
    (``follow_up.changes_record``); ``announce=False`` does neither (a bulk load whose boards are
    rebuilt afterwards). Returns how many displayed scores changed.
    """
    ids = sorted(set(member_ids))
    if not ids:
        return 0
    now = timezone.now()
    social_rows: list[tuple[float, int, int]] = []
    moves: list[tuple[int, int, int, float, float, float]] = []  # id, old/new score, base, old/new social
    with transaction.atomic():
        for member_id, base, old_social, old_score, s in _points_candidates(ids):
            new_social = social_points(s, PARAMS)
            new_score = total_score(base, new_social)
            if new_score == old_score and abs(new_social - old_social) < SOCIAL_WRITE_STEP:
                continue  # below what anyone is shown (points with one decimal)
            social_rows.append((new_social, new_score, member_id))
            if new_score != old_score:
                moves.append((member_id, old_score, new_score, base, old_social, new_social))
        factors = dict(ScoreState.objects.filter(member_id__in=[m[0] for m in moves])
                       .values_list("member_id", "factors")) if moves else {}
        ScoreChange.objects.bulk_create([
            ScoreChange(
                member_id=member_id, cause=ScoreChange.Cause.CONTAGION,
                old_score=old_score, new_score=new_score, old_base=base, new_base=base,
                old_social=old_social, new_social=new_social,
                old_factors=factors[member_id], new_factors=factors[member_id],
                explanation=f"{explanation}: {format_points(new_score - old_score)}"[:EXPLANATION_MAX_LENGTH],
            )
            for member_id, old_score, new_score, base, old_social, new_social in moves
        ], batch_size=LEDGER_ROWS_PER_INSERT)
        rows_update(ScoreState, key="member", fields=("social", "score"), rows=social_rows, now=("updated_at",),
                    arrays=True)
        rows_update(User, key="id", fields=("score", "score_band", "score_reached_at"),
                    rows=[(m[2], band_for(m[2]), now, m[0]) for m in moves], arrays=True)
        if announce:
            follow_up.changes_record(moves=[
                {"member_id": member_id, "old_score": old, "new_score": new,
                 "cause": ScoreChange.Cause.CONTAGION.value, "explanation": explanation}
                for member_id, old, new, *_ in moves])
    return len(moves)


def _heal_due() -> bool:
    """Whether this tick scans for points left behind (at most once per ``HEAL_EVERY``, across
    workers: the scan reads every member, ≈ 0.2 s at 100k). A cache that is away says yes."""
    try:
        return bool(cache.add(HEAL_KEY, 1, timeout=int(HEAL_EVERY.total_seconds())))
    except Exception:  # Redis restarting: heal now rather than not at all
        logger.warning("contagion: the cache is away; scanning for points left behind anyway")
        return True


def social_points_heal() -> int:
    """Write the points of every member whose stored points or shown score lag behind their
    signal ``s`` (beyond ``SOCIAL_WRITE_STEP``): what a worker killed between a push and its
    points write left behind. One scan of the score states against the contagion rows
    (PostgreSQL: in SQL, a superset filtered exactly by ``social_points_write``). Returns how
    many displayed scores changed."""
    if connection.vendor == "postgresql":
        with bulk_cursor() as cursor:
            cursor.execute(_candidates_sql("true"), _CONSTANTS, binary=True)
            rows = cursor.fetchall()
    else:
        signal = dict(ContagionNode.objects.values_list("member_id", "s"))
        rows = [(m, base, social, score, signal.get(m, 0.0)) for m, base, social, score
                in ScoreState.objects.values_list("member_id", "base", "social", "score")]
    ids = [m for m, base, social, score, s in rows if _lags(base, social, score, s)]  # the superset, exactly
    if not ids:
        return 0
    logger.warning("contagion: %d member(s) showed points behind their signal; writing them", len(ids))
    return social_points_write(member_ids=ids, explanation="Your friends' scores moved")


def _lags(base: float, social: float, score: int, s: float) -> bool:
    """Whether stored points and score are off what signal ``s`` says (``social_points_write``'s rule)."""
    points = social_points(s, PARAMS)
    return total_score(base, points) != score or abs(points - social) >= SOCIAL_WRITE_STEP


def _candidates_sql(where: str) -> str:
    """Members (of ``where``, a condition on the score state ``t``) whose points may need a write:
    ``(member_id, base, social, score, s)``, a superset of ``_lags`` in the same float arithmetic
    as social_points/total_score (the ±1e-9 keeps it a superset)."""
    state, node = ScoreState._meta.db_table, ContagionNode._meta.db_table
    return f"""
        SELECT member_id, base, social, score, s FROM (
            SELECT t.member_id, t.base, t.social, t.score, COALESCE(n.s, 0) AS s,
                   GREATEST(-%(cap)s, LEAST(%(cap)s, %(lam)s * COALESCE(n.s, 0))) AS points
              FROM {state} t LEFT JOIN {node} n ON n.member_id = t.member_id
             WHERE {where}
        ) c
         WHERE abs(points - social) >= %(step)s - 1e-9
            OR floor(base + points + 0.5 - 1e-9) <> score OR floor(base + points + 0.5 + 1e-9) <> score
    """  # noqa: S608 - our tables and conditions, values are parameters


_CONSTANTS = {"cap": PARAMS.cap, "lam": PARAMS.lam, "step": SOCIAL_WRITE_STEP}


def _points_candidates(ids: list[int]) -> Iterable[tuple[int, float, float, int, float]]:
    """``(member_id, base, social, score, s)`` for these members, their rows locked in the house's
    order (members, then score states); on PostgreSQL only rows that may need a write (a
    superset, filtered exactly by the caller)."""
    if connection.vendor != "postgresql":
        locks.member_ids_lock(ids)
        locks.rows_lock(ScoreState, ids, level=locks.SCORE_STATES)
        locked = list(ScoreState.objects.filter(member_id__in=ids).order_by("member_id")
                      .values_list("member_id", "base", "social", "score"))
        signal = dict(ContagionNode.objects.filter(member_id__in=ids).values_list("member_id", "s"))
        return [(m, base, social, score, signal.get(m, 0.0)) for m, base, social, score in locked]
    candidates_sql = _candidates_sql("t.member_id = ANY(%(ids)s)")
    with bulk_cursor() as cursor:  # a global solve hands in 100k ids: bind them, do not quote them
        # Unlocked first: a global solve hands in most members, few of whom need a write, and
        # locking a row costs a write. A member left out here whose s moves later is written by
        # whoever moves it; the candidates are locked and then filtered again, exactly.
        cursor.execute(candidates_sql, {"ids": ids, **_CONSTANTS}, binary=True)
        ids = sorted(row[0] for row in cursor.fetchall())
    if not ids:
        return []
    locks.rows_lock(User, ids, level=locks.MEMBERS)
    locks.rows_lock(ScoreState, ids, level=locks.SCORE_STATES)
    with bulk_cursor() as cursor:
        cursor.execute(candidates_sql, {"ids": ids, **_CONSTANTS}, binary=True)
        return cursor.fetchall()


@dataclass(frozen=True)
class Contribution:
    """One friend's share of a member's social points (points, before the ±C clamp)."""

    username: str
    own: float  # from the friend's own behaviour (their base)
    friends: float  # from the friend's friends (their social signal)

    @property
    def total(self) -> float:
        return self.own + self.friends


def contagion_breakdown(*, member: User) -> list[Contribution]:
    """Who moves the member's social points and by how much, largest first.

    s_u ≈ α/k Σ_w (d_w + s_w), so friend w contributes λ·α/k·d_w ("their own behaviour") and
    λ·α/k·s_w ("their friends"). The sum equals λ·s_u up to the engine's error bound.
    """
    edges = ContagionEdge.objects.filter(Q(member_a=member) | Q(member_b=member)).values_list(
        "member_a_id", "member_b_id"
    )
    friend_ids = [b if a == member.pk else a for a, b in edges]
    if not friend_ids:
        return []
    k = len(friend_ids)
    share = PARAMS.lam * PARAMS.alpha / k
    rows = ContagionNode.objects.filter(member_id__in=friend_ids).values_list("member__username", "d", "s")
    contributions = [Contribution(username=u, own=share * d, friends=share * s) for u, d, s in rows]
    return sorted(contributions, key=lambda c: (-abs(c.total), c.username))


def contagion_rebuild(*, announce: bool = True) -> dict[str, Any]:
    """The rebuild path (nightly reconciliation, ``manage.py contagion_rebuild``).

    Under the table lock: the applied edges become the social graph's contagion edges (only the
    difference is written), every member's d becomes base − ``NEUTRAL_BASE``, the global sparse solve sets s
    (warm-started from the incremental state) and r = αP(d + s) − s exactly. Returns what
    members were shown against what the rebuild shows them (``displayed_gap``: the largest
    social-points gap, within ``POINTS_BOUND`` when the incremental state was sound, and how
    many displayed scores differed), the largest gap of the engine's own signal (``largest_gap``,
    at most ε/(1−α) when sound), and the time of each step (seconds).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    now = timezone.now()  # one moment for both reads below
    active = friendships_active_for_contagion(now=now).order_by().values_list("member_a_id", "member_b_id")
    # Members in a friendship who were never scored get their starting score first (rare).
    counted = friendships_active_for_contagion(now=now)
    # From the small side: members without a score state (rare), then their counted friendships.
    # (A query from the friendships' side, an OR across the two joins, multiplied a hub's rows and
    # ran PostgreSQL out of memory at a million members.)
    unscored = set(User.objects.filter(score_state__isnull=True).values_list("pk", flat=True))
    if unscored:
        pairs = counted.filter(Q(member_a_id__in=unscored) | Q(member_b_id__in=unscored))
        unscored &= {m for pair in pairs.values_list("member_a_id", "member_b_id") for m in pair}
    for member in User.objects.filter(pk__in=unscored).order_by("pk"):
        member_state_ensure(member=member)
    known_before = np.fromiter(ContagionNode.objects.values_list("member_id", flat=True), dtype=np.int64)
    nodes_ensure_for_scored()
    lap("prepare")
    with transaction.atomic():
        lock_for_rebuild()
        sql, params = active.query.sql_with_params()
        a, b = edges_rebuild(sql, list(params))
        edges = int(a.size)
        lap("edges")
        rows = nodes_read_for_rebuild(NEUTRAL_BASE)
        ids, s_before = rows["id"], rows["s"]
        d = rows["base"] - NEUTRAL_BASE
        graph = build_graph(ids, (a, b))
        pos = graph.positions(ids)
        d_graph = np.empty(graph.n)
        d_graph[pos] = d
        s0 = np.empty(graph.n)
        s0[pos] = s_before
        lap("read")
        # tol on |r| = ε/10: the rebuilt state is far inside the bound the pushes keep.
        result = solve_graph(graph, d_graph, alpha=PARAMS.alpha, tol=PARAMS.eps / 10, s0=s0)
        r = graph_residuals(graph, d_graph, result.s, PARAMS.alpha)
        s_after = result.s[pos]
        lap("solve")
        deg = graph.deg[pos].astype(np.int64)
        # Only rows that differ are written: a nightly rebuild of a sound state changes few (r is
        # compared to within 1e-9 deviation points: increments leave float dust, ε is 0.1).
        differs = ((d != rows["d"]) | (s_after != s_before) | (np.abs(r[pos] - rows["r"]) > 1e-9)
                   | (deg != rows["deg"]))
        nodes_write_absolute(ids[differs], d[differs], s_after[differs], r[pos][differs], deg[differs])
        lap("write")
    # The gap is measured where there was an incremental state: rows created just now had none.
    known = np.isin(ids, known_before)
    gap = float(np.abs(s_after - s_before)[known].max(initial=0.0))
    shown = displayed_gap(ids[known], s_after[known])  # what members saw, against what they now see
    changed = social_points_write(member_ids=ids.tolist(), explanation="Friend contagion recomputed",
                                  announce=announce)
    lap("points")
    return {"members": int(ids.size), "new_members": int(ids.size - known.sum()), "edges": edges,
            "largest_gap": gap, "bound": PARAMS.error_bound, **shown, "points_bound": POINTS_BOUND,
            "scores_changed": changed, "iterations": result.iterations, "timings": timings}


def displayed_gap(ids: np.ndarray, s: np.ndarray) -> dict[str, Any]:
    """How far the points and scores members are shown lie from what signal ``s`` (aligned with
    ``ids``) says: ``largest_points_gap`` (points), ``scores_differ`` (displayed scores another),
    ``largest_score_gap`` (points of score). Members without a score state are left out."""
    signal = dict(zip(ids.tolist(), s.tolist(), strict=True))
    points_gap, differ, score_gap = 0.0, 0, 0
    # Every state, read in chunks and looked up (the ids are most members: no IN list of a million).
    for member_id, base, social, score in ScoreState.objects.values_list(
            "member_id", "base", "social", "score").iterator(chunk_size=10_000):
        if member_id not in signal:
            continue
        points = social_points(signal[member_id], PARAMS)
        points_gap = max(points_gap, abs(points - social))
        shown = total_score(base, points)
        if shown != score:
            differ += 1
            score_gap = max(score_gap, abs(shown - score))
    return {"largest_points_gap": points_gap, "scores_differ": differ, "largest_score_gap": score_gap}


def contagion_check() -> dict[str, Any]:
    """``manage.py contagion_rebuild --dry-run``: what a rebuild would change, measured where
    members see it, and nothing changed.

    The truth — the social graph's contagion friendships and every member's base — is solved
    exactly (``tol`` = ε/100) and compared with the stored state: friendships applied or not
    (``edges_missing`` / ``edges_extra``), bases not folded in (``bases_unfolded``), the largest
    gap between the social points members are shown and the exact ones (``largest_points_gap``,
    against ``points_bound``), displayed scores that differ, and the engine's own signal gap
    (``largest_signal_gap``, against ε/(1−α)). ``differs``: anything a member sees is off.
    """
    now = timezone.now()
    active = friendships_active_for_contagion(now=now).order_by().values_list("member_a_id", "member_b_id")
    sql, params = active.query.sql_with_params()
    desired = pairs_read(sql, list(params))
    stored = pairs_read(f"SELECT member_a_id, member_b_id FROM {ContagionEdge._meta.db_table}", [])  # noqa: S608
    missing, extra = pairs_difference(desired, stored)
    states = list(ScoreState.objects.values_list("member_id", "base").iterator(chunk_size=10_000))
    base = dict(states)
    ids = np.unique(np.concatenate([np.fromiter(base, dtype=np.int64, count=len(base)), desired.reshape(-1)]))
    d = np.array([base.get(m, NEUTRAL_BASE) - NEUTRAL_BASE for m in ids.tolist()], dtype=np.float64)
    graph = build_graph(ids, (desired[:, 0], desired[:, 1]))
    pos = graph.positions(ids)
    d_graph = np.empty(graph.n)
    d_graph[pos] = d
    exact = solve_graph(graph, d_graph, alpha=PARAMS.alpha, tol=PARAMS.eps / 100).s[pos]
    nodes = {m: (node_d, node_s) for m, node_d, node_s in ContagionNode.objects.values_list("member_id", "d", "s")
             .iterator(chunk_size=10_000)}
    # (A member in a friendship without a row shows as a missing edge: edges are applied with rows.)
    unfolded = sum(1 for m, b in states if m in nodes and abs(nodes[m][0] - (b - NEUTRAL_BASE)) > 1e-6)
    stored_s = np.array([nodes.get(m, (0.0, 0.0))[1] for m in ids.tolist()], dtype=np.float64)
    shown = displayed_gap(ids, exact)
    figures = {"members": len(states), "unscored_in_friendships": int(ids.size - len(states)),
               "edges": len(desired), "edges_missing": len(missing), "edges_extra": len(extra),
               "bases_unfolded": unfolded, **shown, "points_bound": POINTS_BOUND,
               "largest_signal_gap": float(np.abs(stored_s - exact).max(initial=0.0)),
               "signal_bound": PARAMS.error_bound}
    figures["differs"] = bool(missing.size or extra.size or unfolded or shown["scores_differ"]
                              or shown["largest_points_gap"] > POINTS_BOUND)
    return figures
