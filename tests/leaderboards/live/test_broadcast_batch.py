"""``broadcast.batch()``: what committed inside leaves in one hop at the end, in order; what rolled
back never leaves; every Celery task runs inside one (the task pre/post-run hooks connected in
leaderboards.live.receivers)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django.db import transaction

from leaderboards.live import broadcast

GROUP = "lb.test.batch"


@pytest.fixture
def listener() -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(GROUP, channel)
    return channel


def received(channel: str) -> list[Any]:
    layer = get_channel_layer()

    async def drain() -> list[Any]:
        out = []
        while True:
            try:
                out.append((await asyncio.wait_for(layer.receive(channel), 0.05))["n"])
            except TimeoutError:
                return out

    return async_to_sync(drain)()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many async_to_sync hops broadcast made (the cost batching saves)."""
    counted: list[int] = []
    real = broadcast.async_to_sync

    def counting(fn):  # type: ignore[no-untyped-def]
        counted.append(1)
        return real(fn)

    monkeypatch.setattr(broadcast, "async_to_sync", counting)
    return counted


@pytest.mark.django_db(transaction=True)
def test_without_a_batch_each_message_is_its_own_hop(listener: str, hops: list[int]) -> None:
    for n in range(3):
        broadcast.send(GROUP, {"type": "test.message", "n": n})
    assert len(hops) == 3
    assert received(listener) == [0, 1, 2]


@pytest.mark.django_db(transaction=True)
def test_a_batch_delivers_what_committed_at_its_end_in_one_hop_in_order(listener: str, hops: list[int]) -> None:
    with broadcast.batch():
        broadcast.send(GROUP, {"type": "test.message", "n": 1})  # no transaction: committed already
        with transaction.atomic():
            broadcast.send(GROUP, {"type": "test.message", "n": 2})
        with broadcast.batch():  # nested: only the outermost delivers
            broadcast.send(GROUP, {"type": "test.message", "n": 3})
        assert received(listener) == [] and hops == []
    assert len(hops) == 1
    assert received(listener) == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_a_batch_keeps_each_groups_order_while_groups_go_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = get_channel_layer()
    groups = [f"{GROUP}.{n}" for n in range(5)]
    channels = {group: async_to_sync(layer.new_channel)() for group in groups}
    for group, channel in channels.items():
        async_to_sync(layer.group_add)(group, channel)
    monkeypatch.setattr(broadcast, "DELIVERY_CONCURRENCY", 2)
    real_send = layer.group_send
    failed: list[tuple[str, int]] = []

    async def failing(group: str, message: dict[str, Any]) -> None:
        if (group, message["n"]) == (groups[1], 2) and not failed:  # once: a connection from before a restart
            failed.append((group, message["n"]))
            raise redis.ConnectionError("Connection closed by server.")
        if (group, message["n"]) == (groups[3], 1):  # every time
            raise ConnectionError("the layer is down")
        await real_send(group, message)

    monkeypatch.setattr(layer, "group_send", failing)
    with broadcast.batch():
        for n in range(4):
            for group in groups:
                broadcast.send(group, {"type": "test.message", "n": n})
    assert {group: received(channel) for group, channel in channels.items()} == {
        groups[0]: [0, 1, 2, 3],
        groups[1]: [0, 1, 2, 3],  # failed once, sent again
        groups[2]: [0, 1, 2, 3],
        groups[3]: [0, 2, 3],  # failed twice: lost (best effort), the rest still go
        groups[4]: [0, 1, 2, 3]}


@pytest.mark.django_db(transaction=True)
def test_what_rolled_back_never_leaves(listener: str, hops: list[int]) -> None:
    with broadcast.batch():
        with pytest.raises(RuntimeError), transaction.atomic():
            broadcast.send(GROUP, {"type": "test.message", "n": 1})
            raise RuntimeError("the write failed")
        broadcast.send(GROUP, {"type": "test.message", "n": 2})
    assert received(listener) == [2]


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_raises_still_delivers_what_committed(listener: str) -> None:
    with pytest.raises(ValueError), broadcast.batch():
        broadcast.send(GROUP, {"type": "test.message", "n": 1})
        raise ValueError("later work failed")
    assert received(listener) == [1]


@shared_task
def publish_three() -> None:
    for n in range(3):
        broadcast.send(GROUP, {"type": "test.message", "n": n})


@pytest.mark.django_db(transaction=True)
def test_a_celery_task_publishes_in_one_hop(listener: str, hops: list[int]) -> None:
    publish_three.apply().get()  # eager, as in embedded mode: the same pre/post-run hooks as a worker
    assert len(hops) == 1
    assert received(listener) == [0, 1, 2]
    broadcast.batch_close()  # an unbalanced close is harmless
    assert received(listener) == []
