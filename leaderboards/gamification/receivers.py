"""Gamification listens: perks (only members who crossed a perk's line), challenge points (one
query for the batch), badges (one task for the batch, if a band rose; most improved when the
boards close a season). Each receiver is set-based: its queries must not grow with the batch.
One member's change (``score_changed``) is handed to the same receivers as a batch of one."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from accounts.members.signals import profile_changed
from leaderboards.boards.signals import season_ended
from leaderboards.gamification import badges, challenges, perks
from scoring.ledger.signals import bases_changed, score_changed, scores_changed
from scoring.moderation.signals import dispute_decided
from social.graph.signals import friendship_started

logger = logging.getLogger(__name__)


def on_scores_changed_challenges(sender: Any, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    """Live challenge points. Best effort: the finish recomputes final points from the ledger,
    so a failure here must never fail the scoring pipeline that sent the signal."""
    member_ids = [change["member_id"] for change in changes]
    try:
        challenges.challenge_members_score_changed(member_ids=member_ids)
    except Exception:
        logger.exception("challenge standings of %s not updated", member_ids)


scores_changed.connect(perks.on_scores_changed, dispatch_uid="leaderboards.perks.scores_changed")
scores_changed.connect(on_scores_changed_challenges, dispatch_uid="leaderboards.challenges.scores_changed")
scores_changed.connect(badges.on_scores_changed, dispatch_uid="leaderboards.badges.scores_changed")
bases_changed.connect(badges.on_bases_changed, dispatch_uid="leaderboards.badges.bases_changed")
dispute_decided.connect(badges.on_dispute_decided, dispatch_uid="leaderboards.badges.dispute_decided")
profile_changed.connect(perks.on_profile_changed, dispatch_uid="leaderboards.perks.profile_changed")
friendship_started.connect(badges.on_friendship_started, dispatch_uid="leaderboards.badges.friendship_started")
season_ended.connect(badges.on_season_ended, dispatch_uid="leaderboards.badges.season_ended")


@receiver(score_changed, dispatch_uid="leaderboards.gamification.score_changed")
def on_score_changed(sender: Any, member_id: int, old_score: int | None, new_score: int | None,
                     cause: str = "", explanation: str = "", **kwargs: Any) -> None:
    """One member's score moved: the batch receivers, with a batch of one."""
    changes = [{"member_id": member_id, "old_score": old_score, "new_score": new_score, "cause": cause,
                "explanation": explanation}]
    perks.on_scores_changed(sender, changes=changes)
    on_scores_changed_challenges(sender, changes=changes)
    badges.on_scores_changed(sender, changes=changes)
