"""Gamification listens: perks (only members who crossed a perk's line), challenge points (one
query for the batch), badges (one task for the batch, if a band rose; most improved when the
boards close a season). Each receiver is set-based: its queries must not grow with the batch.
One member's change (``score_changed``) is handed to the same receivers as a batch of one.

A batch reaches perks, then challenges, then badges: the order of the receivers below (the
boards' own receivers are connected before these, see ``leaderboards.apps``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.dispatch import receiver

from accounts.members.signals import profile_changed
from leaderboards.boards.signals import season_ended
from leaderboards.gamification import badges, challenges, perks
from scoring.demo.signals import world_seeded
from scoring.ledger.signals import bases_changed, score_changed, scores_changed
from scoring.moderation.signals import dispute_decided
from social.graph.signals import friendship_started

# Named explicitly, not after this module: operators filter on it.
challenges_logger = logging.getLogger("leaderboards.challenges")

#: Fields of ``profile_changed`` that change whether a member may hold perks.
ACCOUNT_FIELDS = {"is_frozen", "is_active"}


@receiver(scores_changed, dispatch_uid="leaderboards.perks.scores_changed")
def on_scores_changed_perks(sender: Any, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    perks.perks_sync_crossing_later(changes=changes)


@receiver(scores_changed, dispatch_uid="leaderboards.challenges.scores_changed")
def on_scores_changed_challenges(sender: Any, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    """Live challenge points. Best effort: the finish recomputes final points from the ledger,
    so a failure here must never fail the scoring pipeline that sent the signal."""
    member_ids = [change["member_id"] for change in changes]
    try:
        challenges.challenge_members_score_changed(member_ids=member_ids)
    except Exception:
        challenges_logger.exception("challenge standings of %s not updated", member_ids)


@receiver(scores_changed, dispatch_uid="leaderboards.badges.scores_changed")
def on_scores_changed_badges(sender: Any, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    badges.band_badges_evaluate_later(changes=changes)


@receiver(score_changed, dispatch_uid="leaderboards.gamification.score_changed")
def on_score_changed(sender: Any, member_id: int, old_score: int | None, new_score: int | None,
                     cause: str = "", explanation: str = "", **kwargs: Any) -> None:
    """One member's score moved: the batch receivers, with a batch of one."""
    changes = [{"member_id": member_id, "old_score": old_score, "new_score": new_score, "cause": cause,
                "explanation": explanation}]
    on_scores_changed_perks(sender, changes=changes)
    on_scores_changed_challenges(sender, changes=changes)
    on_scores_changed_badges(sender, changes=changes)


@receiver(bases_changed, dispatch_uid="leaderboards.badges.bases_changed")
def on_bases_changed(sender: Any, member_ids: list[int], payments_on_time: list[int] | None = None,
                     **kwargs: Any) -> None:
    badges.streak_badges_evaluate_later(member_ids=member_ids, payments_on_time=payments_on_time)


@receiver(dispute_decided, dispatch_uid="leaderboards.badges.dispute_decided")
def on_dispute_decided(sender: Any, member_id: int, **kwargs: Any) -> None:
    badges.badges_evaluate_later(member_ids=[member_id], families=[badges.DISPUTES])


@receiver(profile_changed, dispatch_uid="leaderboards.perks.profile_changed")
def on_profile_changed(sender: Any, user_id: int, fields: Iterable[str] = (), **kwargs: Any) -> None:
    if ACCOUNT_FIELDS.intersection(fields):
        perks.perks_sync_member_later(member_id=user_id, cause=perks.Cause.ACCOUNT)


@receiver(friendship_started, dispatch_uid="leaderboards.badges.friendship_started")
def on_friendship_started(sender: Any, member_a_id: int, member_b_id: int, **kwargs: Any) -> None:
    """First friend, and — when it came through an invitation — invitations accepted."""
    badges.badges_evaluate_later(member_ids=[member_a_id, member_b_id], families=[badges.SOCIAL])


@receiver(season_ended, dispatch_uid="leaderboards.badges.season_ended")
def on_season_ended(sender: Any, season_id: int, **kwargs: Any) -> None:
    badges.season_badges_award_later(season_id=season_id)


@receiver(world_seeded, dispatch_uid="leaderboards.badges.world_seeded")
def on_world_seeded(sender: Any, member_ids: list[int], now: datetime, **kwargs: Any) -> None:
    """A history loaded at once: the badges it earned and the perks its scores hold, dated when
    they were earned."""
    badges.badges_award_history(member_ids=member_ids, now=now)
    perks.perks_grant_history(member_ids=member_ids)
