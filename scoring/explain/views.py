"""The member's score pages: the score and why, its history, what-if, what changed, and how the
score works.

The events page, which also shows each event's dispute, is moderation's (``scoring.moderation.views``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.members.access import member_of
from scoring.explain import overview as explain
from scoring.explain.charts import gauge_svg, history_svg
from scoring.explain.forms import WhatIfForm
from scoring.explain.model_card import page_context
from scoring.explain.whatif import what_if
from scoring.ledger import selectors

#: Ledger rows per page of the "what changed" page; the dashboard shows the latest few.
CHANGES_PER_PAGE = 30
RECENT_CHANGES = 5


def score_context(request: HttpRequest) -> dict:
    """What the dashboard's score panel shows (also used by config.views.dashboard)."""
    me = member_of(request)
    overview = explain.score_overview(member=me)
    return {
        "overview": overview,
        "gauge": gauge_svg(overview["score"]),
        "recent_changes": list(selectors.ledger(member=me)[:RECENT_CHANGES]),
    }


@login_required
def score_page(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    context = score_context(request)
    form = WhatIfForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        context["what_if"] = what_if(member=me, scenario=form.scenario())
    context["form"] = form
    context["history"] = history_svg(selectors.score_history(member=me))
    return render(request, "scoring/score.html", context)


@login_required
def changes_page(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.ledger(member=member_of(request)), CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "scoring/changes.html", {"page": page})


@login_required
def how_it_works_page(request: HttpRequest) -> HttpResponse:
    """How the score works: the factors, the bands, and what the score means on real data."""
    return render(request, "scoring/explain/how_it_works.html", {"card": page_context()})
