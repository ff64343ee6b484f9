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
DB = "lbbench"
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


def friends_board(friends: int, n: int) -> None:
    from datetime import UTC, datetime, timedelta

    from knox.models import AuthToken
    from rest_framework.test import APIClient

    from accounts.models import User
    from leaderboards import index, services
    from leaderboards.ranking import member_key
    from scoring.model import band_for
    from social.models import Friendship

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(1)
    users = [User(username=f"u{i:05d}", email=f"u{i}@example.com", score=(s := rng.randint(350, 950)),
                  score_band=band_for(s), score_reached_at=t0 + timedelta(seconds=i), on_global_board=True)
             for i in range(friends + 1)]
    User.objects.bulk_create(users, batch_size=1000)
    me, *others = list(User.objects.order_by("pk"))
    Friendship.objects.bulk_create(
        [Friendship(member_a_id=min(me.pk, o.pk), member_b_id=max(me.pk, o.pk)) for o in others], batch_size=1000)
    services.index_rebuild()
    _, token = AuthToken.objects.create(me)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/v1/leaderboards/friends/?around=me&limit=50")
    assert response.status_code == 200 and response.json()["total"] == friends + 1, response.content

    api = timed(lambda: client.get("/api/v1/leaderboards/friends/?around=me&limit=50"), n)
    from leaderboards import boards

    board_only = timed(lambda: boards.board_for("friends", viewer=me).view(viewer_id=me.pk, limit=50,
                                                                            around_me=True), n)
    from social.selectors import friend_ids

    ids_only = timed(lambda: friend_ids(member_id=me.pk), n)
    r = index.client()
    names = [member_key(o.pk) for o in others]
    raw = timed(lambda: r.zmscore(index.keys().all, names), n)
    print(f"friends board, {friends} friends, GET /api/v1/leaderboards/friends/?around=me (n={n}):")
    print(f"  API       p50 {api[0]:7.3f} ms   p99 {api[1]:7.3f} ms")
    print(f"  board alone (no HTTP/auth) p50 {board_only[0]:7.3f} ms   p99 {board_only[1]:7.3f} ms")
    print(f"  of which friend_ids query  p50 {ids_only[0]:7.3f} ms   p99 {ids_only[1]:7.3f} ms")
    print(f"  raw ZMSCORE of {friends}: p50 {raw[0]:7.3f} ms   p99 {raw[1]:7.3f} ms")
    print(f"  ratio API/raw (p50): {api[0] / raw[0]:.1f}x")


def global_around_me(members: int, n: int) -> None:
    from leaderboards import boards, index
    from leaderboards.ranking import EPOCH_MS, encode, member_key

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
    board = boards.RankedBoard("global", index.RedisSource(key))  # verify=False: these ids are not in the DB
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
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args()
    setup()
    from leaderboards import index

    try:
        friends_board(args.friends, args.n)
        global_around_me(args.members, args.n)
    finally:
        index.drop_all()


if __name__ == "__main__":
    main()
