"""The dashboard's progress and streak cards (contexts used by ``config.views.dashboard``)."""

from __future__ import annotations

from typing import Any

from accounts.members.models import User
from scoring.ledger.streaks import member_streak
from scoring.progress.next_band import member_progress


def progress_context(member: User) -> dict[str, Any]:
    """``progress``: the member's ``scoring.progress.next_band.Progress`` (reads only)."""
    return {"progress": member_progress(member=member)}


def streak_context(member: User) -> dict[str, Any]:
    """``streak``: the member's ``scoring.ledger.streaks.Streak`` (their local dates)."""
    return {"streak": member_streak(member=member)}
