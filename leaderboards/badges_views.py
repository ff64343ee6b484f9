"""The Badges page and the dashboard's badges card (mobile-first; refreshed on ``me.changed``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from config.typing import member_of
from leaderboards.badges import BadgeStatus, badges_overview, newest_first

#: Earned badges shown on the dashboard card.
CARD_RECENT = 3


@login_required
def badges_page(request: HttpRequest) -> HttpResponse:
    overview = badges_overview(member=member_of(request))
    return render(request, "leaderboards/badges.html", {
        "earned": [s for s in overview if s.earned],
        "to_earn": [s for s in overview if not s.complete],
        "earned_count": sum(len(s.earned) for s in overview),
    })


def _closest(statuses: list[BadgeStatus]) -> BadgeStatus | None:
    """The badge with measurable progress that is nearest to done."""
    measured = [s for s in statuses if s.progress is not None and s.progress.goal > 0]
    if not measured:
        return None
    return max(measured, key=lambda s: s.progress.current / s.progress.goal if s.progress else 0)


def badges_context(member: User) -> dict[str, Any]:
    """The dashboard's badges card: the latest badges and the one closest to being earned."""
    overview = badges_overview(member=member)
    earned = newest_first(overview)
    return {"badges_card": {"recent": earned[:CARD_RECENT], "count": len(earned), "next": _closest(overview)}}
