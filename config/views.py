"""Project-level pages that compose several apps: the dashboard and the error pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.members.access import member_of
from accounts.members.selectors import profile_completeness
from config.kernel.errors import api_not_found, api_server_error
from leaderboards.gamification.views import badges_context, challenges_context, perks_context
from scoring.explain.views import score_context
from scoring.moderation.views import moderation_context
from scoring.progress.views import progress_context, streak_context


def _live_context(request: HttpRequest) -> dict:
    """What ``_live_cards.html`` shows: the score and the gamification cards."""
    me = member_of(request)
    context = score_context(request)
    for part in (progress_context, streak_context, perks_context, challenges_context, badges_context):
        context.update(part(me))
    return context


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {"completeness": profile_completeness(user=member_of(request))}
    context.update(moderation_context(request))
    context.update(_live_context(request))
    return render(request, "dashboard.html", context)


@login_required
def dashboard_cards(request: HttpRequest) -> HttpResponse:
    """The dashboard's live part alone (an HTML fragment), re-fetched by static/js/dashboard.js."""
    response = render(request, "_live_cards.html", _live_context(request))
    response["Cache-Control"] = "no-store"
    return response


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return render(request, "500.html", status=500)
