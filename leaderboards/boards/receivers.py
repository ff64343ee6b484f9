"""The boards listen: scores that moved, members who joined or left a board, friendships."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from accounts.members.signals import profile_changed
from leaderboards.boards import services
from scoring.demo.signals import world_seeded
from scoring.ledger.signals import score_changed, scores_changed
from social.graph.signals import friendship_ended, friendship_started

#: Fields of ``profile_changed`` that move a member on or off boards.
LISTING_FIELDS = {"on_global_board", "private_mode", "is_frozen", "is_active"}


@receiver(scores_changed, dispatch_uid="leaderboards.scores_changed")
def on_scores_changed(sender: Any, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    """Scores moved (a scoring batch, a contagion pass): boards and one live publish per member.
    Set-based: its queries must not grow with the batch."""
    services.members_scores_changed(changes=changes)


@receiver(score_changed, dispatch_uid="leaderboards.score_changed")
def on_score_changed(sender: Any, member_id: int, old_score: int | None, new_score: int | None,
                     cause: str = "", explanation: str = "", **kwargs: Any) -> None:
    """One member's score moved: the batch receiver, with a batch of one."""
    on_scores_changed(sender, changes=[{"member_id": member_id, "old_score": old_score, "new_score": new_score,
                                        "cause": cause, "explanation": explanation}])


@receiver(profile_changed, dispatch_uid="leaderboards.profile_changed")
def on_profile_changed(sender: Any, user_id: int, fields: list[str], **kwargs: Any) -> None:
    if LISTING_FIELDS.intersection(fields):
        services.member_listing_changed(member_id=user_id)


@receiver(friendship_started, dispatch_uid="leaderboards.friendship_started")
@receiver(friendship_ended, dispatch_uid="leaderboards.friendship_ended")
def on_friendship(sender: Any, member_a_id: int, member_b_id: int, **kwargs: Any) -> None:
    services.friends_changed(member_ids=[member_a_id, member_b_id])


@receiver(world_seeded, dispatch_uid="leaderboards.world_seeded")
def on_world_seeded(sender: Any, member_ids: list[int], now: datetime, **kwargs: Any) -> None:
    """A history loaded at once: this week's entries from the ledger (the index is rebuilt after)."""
    services.season_entries_rebuild(member_ids=member_ids, now=now)
