"""Celery tasks of gamification: thin, idempotent (badges, challenges, perks)."""

from __future__ import annotations

from celery import shared_task

from config.kernel.task_policy import RETRY_ON_DATABASE_ERRORS
from leaderboards.gamification import badges, challenges, perks


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def evaluate_badges(member_ids: list[int], families: list[str] | None = None) -> int:
    """Award what these members' rules (of ``families``; None: all) say is due. Returns how many."""
    return len(badges.badges_evaluate_many(member_ids=member_ids, families=families))


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def award_season_badges(season_id: int) -> int:
    """A season closed: most improved of the week."""
    return len(badges.badges_season_award(season_id=season_id))


@shared_task(acks_late=True)
def award_anniversary_badges() -> int:
    """Daily: one year a member."""
    return badges.badges_anniversaries_award()


@shared_task(acks_late=True)
def challenges_finish_due() -> int:
    """Periodic: finish (or cancel, if nobody accepted) the challenges whose end passed."""
    return challenges.challenges_finish_due()


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def perks_sync_member(member_id: int, cause: str = "score") -> bool:
    """The member's score or account moved across a perk's line: open/close their grants."""
    return perks.perks_sync(member_id=member_id, cause=cause).changed


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def perks_sync_members(member_ids: list[int], cause: str = "score") -> int:
    """These members' scores moved across a perk's line (one scoring batch): open/close their
    grants, one member at a time. Returns how many members' perks changed. A retry re-syncs
    everyone: ``perks_sync`` is idempotent."""
    return perks.perks_sync_many(member_ids=member_ids, cause=cause)


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def perk_members_sync(perk_id: int) -> int:
    """A perk was added, edited or (de)activated in the admin: re-sync the members it affects."""
    return perks.perk_members_sync(perk_id=perk_id)
