"""Friend contagion with its storage: PostgreSQL rows, one worker process, ε = 0.1.

Loads a synthetic heavy-tailed graph (the generator of bench_contagion.py) as members with
varied bases and contagion rows straight into PostgreSQL (COPY-speed bulk inserts, then the
real rebuild path: ``contagion_rebuild``), then measures base changes per second through the
real task ``scoring.contagion.tasks.contagion_bases_sync`` (the one the scoring pipeline enqueues, run in
this process): for fixed batch sizes (``--batches``, default 1, 100, 1,000 and 5,000 changed
members), and for a backlog of scoring batches of 500 run by one worker in order (``--backlog``:
the first task takes every queued member, ``scoring.contagion.backlog``). Checks the error bound against an
exact solve after.

Run: .venv/bin/python bench/bench_contagion_db.py [--members 100000] [--db NAME] [--reuse]
     [--changes N] [--batches 1000,5000] [--backlog 20000] [--rebuilds] [--profile FILE]
(``--reuse`` keeps a database this script loaded before, with the same --members, and skips the
load and the rebuild: for comparing code changes back to back. ``--profile`` writes a cProfile
of the timed tasks.)
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import random
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._services import recreate_database, setup_django
from bench.bench_contagion import chung_lu, deviations

DB = "credo_bench_contagion"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=2_000)
    parser.add_argument("--db", default=DB, help="database name (dropped and recreated unless --reuse)")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    parser.add_argument("--batches", type=lambda v: [int(x) for x in v.split(",") if x], default=[1, 100, 1_000, 5_000],
                        help="batch sizes, comma-separated ('' for none: load and rebuild only)")
    parser.add_argument("--backlog", type=lambda v: [int(x) for x in v.split(",") if x], default=[],
                        help="base changes queued as scoring batches of 500 before one worker runs their "
                             "tasks, comma-separated (services mode: the first task takes the whole backlog)")
    parser.add_argument("--rebuilds", action="store_true",
                        help="time contagion_rebuild twice: nightly (nothing to write), then with every row drifted")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the timed tasks into FILE (pstats) and print where their time went")
    args = parser.parse_args()
    if not args.reuse:
        recreate_database(args.db)
    setup_django(args.db)
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from accounts.members.models import User
    from scoring.contagion import backlog as contagion_backlog
    from scoring.contagion import services as contagion_services
    from scoring.contagion import tasks
    from scoring.contagion.models import ContagionEdge, ContagionNode
    from scoring.contagion.services import PARAMS
    from scoring.contagion.solve import solve
    from scoring.ingestion import dirty
    from scoring.ledger.models import ScoreState

    n = args.members

    @functools.cache
    def graph() -> tuple[np.ndarray, np.ndarray]:
        """The synthetic friendships (0-based pairs), made only when loading or checking: a
        rebuild-only run's peak memory is then the rebuild's."""
        u, v = chung_lu(n, seed=1)
        pairs = np.unique(np.stack([np.minimum(u, v), np.maximum(u, v)], axis=1), axis=0)
        return pairs[:, 0], pairs[:, 1]

    if args.reuse:
        print(f"Contagion with storage: {n:,} members, {ContagionEdge.objects.count():,} applied friendships, "
              f"ε={PARAMS.eps}, PostgreSQL, 1 process, 2 cores")
        print("  reusing the loaded database (no load, no rebuild)")
    else:
        a, b = graph()
        d = deviations(n, seed=2)
        print(f"Contagion with storage: {n:,} members, {a.size:,} friendships, ε={PARAMS.eps}, PostgreSQL, "
              "1 process, 2 cores")
        started = time.perf_counter()
        now = timezone.now()
        vested = now - timedelta(days=365)
        with connection.cursor() as cursor:
            ids = np.arange(1, n + 1)
            with cursor.cursor.copy(
                "COPY accounts_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, "
                "is_active, date_joined, phone, city, bio, timezone, profile_visibility, on_global_board, "
                "private_mode, avatar, score, score_band, is_frozen, frozen_reason) FROM STDIN"
            ) as copy:
                for i, dev in zip(ids.tolist(), d.tolist(), strict=True):
                    score = int(min(950, max(350, round(650.0 + dev))))
                    copy.write_row((i, "!", False, f"m{i}", "", "", f"m{i}@bench.local", False, True, now, "", "", "",
                                    "UTC", "friends", False, False, "", score, "", False, ""))
            cursor.execute("SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)", [n])
            with cursor.cursor.copy(
                "COPY scoring_scorestate (member_id, base, social, score, factors, updated_at) FROM STDIN"
            ) as copy:
                for i, dev in zip(ids.tolist(), d.tolist(), strict=True):
                    base = 650.0 + dev
                    copy.write_row((i, base, 0.0, int(min(950, max(350, round(base)))), "{}", now))
            with cursor.cursor.copy(
                "COPY social_friendship (member_a_id, member_b_id, via, accepted_at, ended_reason, ended_note) "
                "FROM STDIN"
            ) as copy:
                for u, v in zip((a + 1).tolist(), (b + 1).tolist(), strict=True):
                    copy.write_row((min(u, v), max(u, v), "request", vested, "", ""))
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        result = contagion_services.contagion_rebuild(announce=False)  # a bulk load: boards are rebuilt apart
        rebuilt = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # planner statistics, as autovacuum would have them after a bulk load
        print(f"  load (COPY) {loaded:.1f} s; contagion_rebuild {result['timings']}")
        print(f"  contagion_rebuild (edges, solve, write {result['members']:,} rows) "
              f"{rebuilt:.1f} s, {result['iterations']} CG iterations")
        started = time.perf_counter()
        again = contagion_services.contagion_rebuild(announce=False)
        print(f"  contagion_rebuild again (the nightly case: edges and state already in place) "
              f"{time.perf_counter() - started:.1f} s: {again['timings']}; peak memory of this process "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    if args.rebuilds:
        for label, drift in (("nightly, stored state consistent", False),
                             ("every contagion row drifted (s + 1e-4, r − 1e-4), so all are rewritten", True)):
            if drift:
                with connection.cursor() as cursor:
                    cursor.execute("UPDATE scoring_contagionnode SET s = s + 0.0001, r = r - 0.0001")
            started = time.perf_counter()
            result = contagion_services.contagion_rebuild(announce=False)
            timings = ", ".join(f"{name} {seconds:.2f}" for name, seconds in result["timings"].items())
            print(f"  contagion_rebuild, {label}: {time.perf_counter() - started:.1f} s ({timings}); peak memory "
                  f"of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    if not args.batches and not args.backlog:
        return

    from scoring.ledger.signals import scores_changed
    from scoring.model import band_for, total_score

    calls: list[int] = []
    receivers = [0.0]  # seconds spent in the scores_changed receivers (boards, live, badges…)
    send = scores_changed.send_robust  # how the ledger's outbox sends it (scoring.ledger.follow_up)

    def timed_send(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return send(*args, **kwargs)
        finally:
            receivers[0] += time.perf_counter() - t0

    scores_changed.send_robust = timed_send  # type: ignore[method-assign]

    def count(execute, sql, params, many, context):  # Django's execute_wrapper protocol
        calls.append(1)
        return execute(sql, params, many, context)

    profile = cProfile.Profile() if args.profile else None
    rng = random.Random(3)
    member_ids = list(range(1, n + 1))
    done = 0

    def bases_move(chosen: list[int]) -> None:
        for member_id in chosen:
            # An event moves a base by a few points (a late payment: −5 to −20; on time: +1 to
            # +5); the scoring batch writes the member's own new score (its publish is the
            # scoring batch's, not the contagion's).
            state = ScoreState.objects.get(member_id=member_id)
            base = state.base + rng.gauss(0, 8)
            score = total_score(base, state.social)
            ScoreState.objects.filter(member_id=member_id).update(base=base, score=score)
            User.objects.filter(pk=member_id).update(score=score, score_band=band_for(score))

    for backlog in args.backlog:
        # A worker that fell behind: scoring batches of dirty.BATCH members each queued their task
        # (and marked their members, as the contagion receiver does after commit); it then runs them in order.
        queued = [rng.sample(member_ids, dirty.BATCH) for _ in range(max(1, backlog // dirty.BATCH))]
        for chosen in queued:
            bases_move(chosen)
            contagion_backlog.members_mark(chosen)
        receivers[0] = 0.0
        t0 = time.perf_counter()
        moved = [tasks.contagion_bases_sync.apply(args=[chosen]).get() for chosen in queued]
        elapsed = time.perf_counter() - t0
        changed = len(queued) * dirty.BATCH
        done += changed
        print(f"  a backlog of {len(queued)} scoring batches of {dirty.BATCH} ({changed:,} base changes) run by one "
              f"worker: {elapsed:.2f} s = {changed / elapsed:,.0f} changes/s (storage and receivers included; "
              f"receivers {receivers[0]:.2f} s); members moved per task: {moved[:3]}{' …' if len(moved) > 3 else ''}")
    for batch in args.batches:
        rounds = max(1, min(args.changes // batch, 200 if batch == 1 else 20))
        elapsed = 0.0
        receivers[0] = 0.0
        changed = 0
        queries = 0
        overflow = 0
        for _ in range(rounds):
            chosen = rng.sample(member_ids, batch)
            bases_move(chosen)
            with connection.execute_wrapper(count):
                t0 = time.perf_counter()
                if profile:
                    profile.enable()
                # The Celery task, run in this process (its pre/post-run hooks included: the
                # task's live messages leave in one hop at its end, as in a worker).
                tasks.contagion_bases_sync.apply(args=[chosen]).get()
                if profile:
                    profile.disable()
                elapsed += time.perf_counter() - t0
            queries += len(calls)
            calls.clear()
            changed += batch
            overflow += ContagionNode.objects.filter(Q(r__gt=PARAMS.eps) | Q(r__lt=-PARAMS.eps)).count()
        done += changed
        own = elapsed - receivers[0]
        print(f"  batches of {batch:>5}: {changed:>6} base changes in {elapsed:6.2f} s = "
              f"{changed / elapsed:8,.0f} changes/s (storage included), {queries / rounds:.0f} queries a batch, "
              f"{overflow / rounds:.0f} members above ε after a batch; without the scores_changed receivers "
              f"(boards, live, badges: {receivers[0]:.2f} s) {own:.2f} s = {changed / own:,.0f} changes/s")

    if profile:
        profile.dump_stats(args.profile)
        print(f"  profile of the timed tasks (profiling slows them; the figures above include it): {args.profile}")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)

    over = ContagionNode.objects.filter(Q(r__gt=PARAMS.eps) | Q(r__lt=-PARAMS.eps)).count()
    t0 = time.perf_counter()
    tick = contagion_services.contagion_tick()
    print(f"  residuals above ε left by exhausted budgets: {over}; contagion_tick cleared them in "
          f"{time.perf_counter() - t0:.2f} s ({'global solve' if tick['global_solve'] else 'pushes'})")
    t0 = time.perf_counter()
    contagion_services.contagion_tick()
    print(f"  the next contagion_tick (the steady state every 10 s: friendships that vested since the last "
          f"one, residuals above ε) {time.perf_counter() - t0:.3f} s")
    rows = list(ContagionNode.objects.order_by("member_id").values_list("member_id", "d", "s", "r"))
    node_ids = np.array([r[0] for r in rows])
    a, b = graph()
    exact = solve(node_ids, np.array([r[1] for r in rows]), (a + 1, b + 1), alpha=PARAMS.alpha, tol=1e-9)
    gap = float(np.abs(exact - np.array([r[2] for r in rows])).max())
    worst_r = float(np.abs(np.array([r[3] for r in rows])).max())
    print(f"  after {done:,} changes: max |r| = {worst_r:.4f} (ε = {PARAMS.eps}), largest gap to an exact "
          f"solve {gap:.4f} (bound ε/(1−α) = {PARAMS.error_bound})")


if __name__ == "__main__":
    main()
