"""Template context every page gets: the main navigation and the bell's unread count."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from accounts.notifications.feed import unread_count

# The main navigation between Dashboard and Settings, in order. An entry shows once its
# page exists (its URL name resolves), so the menu never links to nothing.
NAV = (("friends", "Friends"), ("leaderboard", "Leaderboard"), ("badges", "Badges"), ("challenges", "Challenges"),
       ("perks", "Perks"))


def nav(request: HttpRequest) -> dict[str, list[dict[str, str]]]:
    items = []
    for name, label in NAV:
        try:
            items.append({"url": reverse(name), "label": label})
        except NoReverseMatch:
            continue
    return {"nav_items": items}


def notifications(request: HttpRequest) -> dict[str, int]:
    """The unread count of the top bar's bell: one query, and only for a signed-in member."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(member_id=user.pk)}
