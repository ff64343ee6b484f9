"""Friend contagion listens: moved bases, friendships that start or end, private mode."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.dispatch import receiver

from accounts.members.signals import profile_changed
from config.kernel.after_commit import call_on_commit, enqueue_on_commit
from scoring.contagion import backlog
from scoring.ledger.signals import bases_changed
from social.graph.signals import friendship_ended, friendship_started


@receiver(profile_changed, dispatch_uid="scoring.contagion_private_mode")
def on_profile_changed(sender: Any, user_id: int, fields: list[str], **kwargs: Any) -> None:
    if "private_mode" in fields:
        enqueue_on_commit("scoring.contagion.tasks.contagion_edges_sync", [user_id],
                          "A friend left or joined the social game")


@receiver(bases_changed, dispatch_uid="scoring.contagion_bases")
def on_bases_changed(sender: Any, member_ids: list[int], **kwargs: Any) -> None:
    ids = list(member_ids)
    if settings.SERVICES_MODE:  # a worker that fell behind takes them all at once (contagion.backlog)
        call_on_commit(backlog.members_mark, ids)
    enqueue_on_commit("scoring.contagion.tasks.contagion_bases_sync", ids)


@receiver(friendship_started, dispatch_uid="scoring.contagion_started")
@receiver(friendship_ended, dispatch_uid="scoring.contagion_ended")
def on_friendship_changed(sender: Any, member_a_id: int, member_b_id: int, **kwargs: Any) -> None:
    # A friendship that just started usually counts only once vested (the periodic tick adds
    # it then); checking the pair now costs two small queries and covers CONTAGION_VESTING = 0.
    ended = kwargs.get("signal") is friendship_ended
    enqueue_on_commit("scoring.contagion.tasks.contagion_edges_sync", [member_a_id, member_b_id],
                      "A friendship ended" if ended else "A new friendship counts")
