"""Project-level pages that compose several apps: the dashboard and the error pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import profile_completeness
from config.api_errors import api_not_found, api_server_error
from config.typing import member_of
from scoring.moderation_views import moderation_context
from scoring.views import score_context


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {"completeness": profile_completeness(user=member_of(request))}
    context.update(score_context(request))
    context.update(moderation_context(request))
    # slot: gamification contexts
    return render(request, "dashboard.html", context)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return render(request, "500.html", status=500)
