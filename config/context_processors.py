from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# The main navigation between Dashboard and Settings, in order. An entry shows once its
# page exists (its URL name resolves), so the menu never links to nothing.
NAV = (("friends", "Friends"), ("leaderboard", "Leaderboard"), ("badges", "Badges"))


def nav(request: HttpRequest) -> dict[str, list[dict[str, str]]]:
    items = []
    for name, label in NAV:
        try:
            items.append({"url": reverse(name), "label": label})
        except NoReverseMatch:
            continue
    return {"nav_items": items}
