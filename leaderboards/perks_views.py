"""The Perks page and the dashboard's perks card (mobile-first; refreshed on ``me.changed``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from config.typing import member_of
from leaderboards.perks import member_perks


def perks_context(member: User) -> dict[str, Any]:
    """``perks``: the member's ``leaderboards.perks.MemberPerks`` (reads only)."""
    return {"perks": member_perks(member=member)}


@login_required
def perks_page(request: HttpRequest) -> HttpResponse:
    return render(request, "leaderboards/perks.html", perks_context(member_of(request)))
