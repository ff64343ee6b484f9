"""Leaderboard read benchmarks in services mode (PostgreSQL + Redis on this machine, loopback).

    .venv/bin/python bench/bench_leaderboards.py                 # 500 friends, 1M-member board
    .venv/bin/python bench/bench_leaderboards.py --members 200000

1. The friends board of a member with 500 friends through the REST API (knox token, the real
   view, ZMSCORE over the friend list): p50/p99, against the raw ZMSCORE of 500 members.
2. The global board's "around me" on a sorted set of 1M members: the board code (Lua window +
   locate, ranks, cursor) p50/p99, against the raw ZREVRANK + ZREVRANGE of the same member.

Env: BENCH_PG (default postgres://postgres@127.0.0.1:5432, database ``lbbench`` is recreated),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/5; keys under a random prefix, deleted after).
Prints figures; asserts nothing about time (STYLE §14).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
DB = os.environ.get("BENCH_DB", "lbbench")
PREFIX = f"bench-lb-{uuid.uuid4().hex[:8]}"


def env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"{PG}/{DB}", "REDIS_URL": REDIS, "LEADERBOARDS_REDIS_PREFIX": PREFIX,
            "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false", "LOG_LEVEL": "WARNING",
            "THROTTLE_USER": "100000000/minute", "PYTHONPATH": str(ROOT)}


def setup() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env(), check=True)
    os.environ.update(env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(min(20, n)):
        fn()  # warm up connections, caches, Lua script loading
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def friends_board(friends: int, n: int, *, strangers: int = 20_000, profile: bool = False) -> None:
    from datetime import UTC, datetime, timedelta

    from knox.models import AuthToken
    from rest_framework.test import APIClient

    from accounts.members.models import User
    from leaderboards.boards import index, services
    from leaderboards.boards.ranking import member_key
    from scoring.model import band_for
    from social.graph.models import Friendship

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(1)
    # The viewer and their friends first, then members who are not their friends: an index the
    # size of a real one (a 500-entry hash or set would be a listpack, scanned linearly).
    users = [User(username=f"u{i:06d}", email=f"u{i}@example.com", score=(s := rng.randint(350, 950)),
                  score_band=band_for(s), score_reached_at=t0 + timedelta(seconds=i), on_global_board=True)
             for i in range(friends + 1 + strangers)]
    User.objects.bulk_create(users, batch_size=2000)
    me, *others = list(User.objects.order_by("pk")[:friends + 1])
    Friendship.objects.bulk_create(
        [Friendship(member_a_id=min(me.pk, o.pk), member_b_id=max(me.pk, o.pk)) for o in others], batch_size=1000)
    services.index_rebuild()
    _, token = AuthToken.objects.create(me)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    url = "/api/v1/leaderboards/friends/?around=me&limit=50"
    response = client.get(url)
    assert response.status_code == 200 and response.json()["total"] == friends + 1, response.content
    session = APIClient()
    session.force_login(me)
    assert session.get(url).json()["total"] == friends + 1

    from django.db import connection

    def queries(fn: Callable[[], object]) -> int:
        # (CaptureQueriesContext misses them: request_started resets the query log.)
        seen: list[str] = []

        def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            fn()
        if profile:
            print("queries:", *(q[:160] for q in seen), sep="\n  ")
        return len(seen)

    token_queries = queries(lambda: client.get(url))
    session_queries = queries(lambda: session.get(url))

    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(200):
            client.get(url)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(90)

    from social.graph.selectors import friend_ids

    r = index.client()
    names = [member_key(o.pk) for o in others]
    k = index.keys()

    def raw_zmscore() -> None:
        r.zmscore(k.all, names)

    def raw_pipeline() -> None:
        # The commands the board needs, pipelined by hand: ZMSCORE + HMGET of the friends.
        pipe = r.pipeline(transaction=False)
        pipe.zmscore(k.all, names)
        pipe.hmget(k.cards, names)
        pipe.execute()

    read_script = index.friends_read_script()
    read_keys = index.friends_read_keys(me.pk)
    me_name = member_key(me.pk)

    def raw_lua() -> None:
        read_script(keys=read_keys, args=[me_name])

    def board() -> None:
        services.board_for("friends", viewer=me).view(viewer_id=me.pk, limit=50, around_me=True)

    def cold_board() -> None:
        index.friends_forget([me.pk])
        board()

    # Interleaved rounds, so load from other work on the machine hits every series alike.
    fns = {"api_token": lambda: client.get(url), "api_session": lambda: session.get(url), "board": board,
           "cold": cold_board, "ids": lambda: friend_ids(member_id=me.pk), "zmscore": raw_zmscore,
           "pipeline": raw_pipeline, "lua": raw_lua}
    series: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        for _ in range(20):
            fn()  # warm up connections, caches, Lua script loading
    for _ in range(n):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            series[name].append((time.perf_counter() - start) * 1000)
    p = {name: percentiles(values) for name, values in series.items()}
    print(f"friends board, {friends} friends among {friends + 1 + strangers:,} members, GET {url} "
          f"(n={n} each, interleaved; load average {os.getloadavg()[0]:.2f}):")
    print(f"  API, knox token  p50 {p['api_token'][0]:7.3f} ms   p99 {p['api_token'][1]:7.3f} ms   "
          f"({token_queries} queries)")
    print(f"  API, session     p50 {p['api_session'][0]:7.3f} ms   p99 {p['api_session'][1]:7.3f} ms   "
          f"({session_queries} queries)")
    print(f"  board alone (no HTTP/auth)           p50 {p['board'][0]:7.3f} ms   p99 {p['board'][1]:7.3f} ms")
    print(f"  board, friend list not cached        p50 {p['cold'][0]:7.3f} ms   p99 {p['cold'][1]:7.3f} ms")
    print(f"  friend_ids query alone               p50 {p['ids'][0]:7.3f} ms   p99 {p['ids'][1]:7.3f} ms")
    print(f"  raw ZMSCORE of {friends}               p50 {p['zmscore'][0]:7.3f} ms   p99 {p['zmscore'][1]:7.3f} ms")
    print(f"  raw ZMSCORE + HMGET, one pipeline    p50 {p['pipeline'][0]:7.3f} ms   p99 {p['pipeline'][1]:7.3f} ms")
    print(f"  raw friends read (the board's Lua)   p50 {p['lua'][0]:7.3f} ms   p99 {p['lua'][1]:7.3f} ms")
    print(f"  ratio API (token)/raw ZMSCORE: p50 {p['api_token'][0] / p['zmscore'][0]:.1f}x, "
          f"p99 {p['api_token'][1] / p['zmscore'][1]:.1f}x")


def global_around_me(members: int, n: int) -> None:
    from leaderboards.boards import backends, index
    from leaderboards.boards.ranking import EPOCH_MS, encode, member_key

    r = index.client()
    key = f"{PREFIX}:bench-global"
    rng = random.Random(2)
    start = time.perf_counter()
    pipe = r.pipeline(transaction=False)
    for base in range(0, members, 10_000):
        mapping = {member_key(m): encode(rng.randint(350, 950), rng.randint(0, 10**9) * 1000)
                   for m in range(base + 1, min(base + 10_000, members) + 1)}
        pipe.zadd(key, mapping)
        if len(pipe) >= 10:
            pipe.execute()
    pipe.execute()
    print(f"\nglobal board, {r.zcard(key):,} members loaded in {time.perf_counter() - start:.1f} s "
          f"(EPOCH_MS {EPOCH_MS})")
    board = backends.RankedBoard("global", index.RedisSource(key))  # verify=False: these ids are not in the DB
    ids = [rng.randint(1, members) for _ in range(n + 20)]
    it = iter(ids)
    view = timed(lambda: board.view(viewer_id=next(it), limit=25, around_me=True), n)

    it2 = iter(ids)

    def raw() -> None:
        name = member_key(next(it2))
        rank = r.zrevrank(key, name)
        r.zrevrange(key, max(0, rank - 12), rank + 12, withscores=True)

    raw_t = timed(raw, n)
    it3 = iter(ids)

    def raw_pipelined() -> None:
        name = member_key(next(it3))
        pipe = r.pipeline(transaction=False)
        pipe.zrevrank(key, name)
        pipe.zscore(key, name)
        pipe.execute()

    one_rt = timed(raw_pipelined, n)
    print(f"global board 'around me' (limit 25, n={n}):")
    print(f"  board view        p50 {view[0]:7.3f} ms   p99 {view[1]:7.3f} ms   (2 round trips: Lua locate, window)")
    print(f"  raw ZREVRANK + ZREVRANGE (2 calls)  p50 {raw_t[0]:7.3f} ms   p99 {raw_t[1]:7.3f} ms")
    print(f"  one pipelined round trip            p50 {one_rt[0]:7.3f} ms   p99 {one_rt[1]:7.3f} ms")
    print(f"  ratio board/raw (p50): {view[0] / raw_t[0]:.2f}x")
    r.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--friends", type=int, default=500)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--strangers", type=int, default=20_000, help="members who are not the viewer's friends")
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="cProfile 200 API requests first")
    parser.add_argument("--skip-global", action="store_true")
    args = parser.parse_args()
    setup()
    from leaderboards.boards import index

    try:
        friends_board(args.friends, args.n, strangers=args.strangers, profile=args.profile)
        if not args.skip_global:
            global_around_me(args.members, args.n)
    finally:
        index.drop_all()


if __name__ == "__main__":
    main()
