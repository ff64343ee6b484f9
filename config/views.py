"""Project-level pages that compose several apps: the dashboard, the error pages, and what makes
the site an installable web app (manifest, service worker, offline page)."""

from __future__ import annotations

import hashlib
import json
from functools import cache

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control

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


# --- installable web app ---------------------------------------------------------------------------

THEME_COLOUR = "#0f766e"
#: Static files the service worker keeps for offline use (the app's shell).
SHELL_STATIC = ("css/credo.css", "js/credo.js", "js/live.js", "js/notifications.js", "js/offline.js",
                "icons/icon.svg", "icons/icon-192.png", "icons/favicon-32.png")


@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: what a phone needs to install Credo on its home screen."""
    icons = [{"src": static("icons/icon.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any"}]
    for size in (192, 512):
        icons.append({"src": static(f"icons/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png",
                      "purpose": "any"})
        icons.append({"src": static(f"icons/maskable-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png",
                      "purpose": "maskable"})
    data = {
        "id": "/", "name": "Credo", "short_name": "Credo",
        "description": "Your credit score from your own financial behaviour, with your friends.",
        "start_url": "/dashboard/?source=app", "scope": "/", "display": "standalone", "orientation": "portrait",
        "theme_color": THEME_COLOUR, "background_color": "#f6f7f9", "lang": "en", "icons": icons,
    }
    return JsonResponse(data, content_type="application/manifest+json")


@cache
def _shell_version() -> str:
    """Changes whenever a shell file changes, so the service worker re-caches (read once per process)."""
    digest = hashlib.sha256()
    for name in SHELL_STATIC:
        found = finders.find(name)
        digest.update(name.encode())
        if isinstance(found, str):
            with open(found, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:12]


@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    """/sw.js, served from the root so that it controls every page."""
    settings_json = json.dumps({
        "version": _shell_version(), "shell": [static(name) for name in SHELL_STATIC],
        "offline": "/offline/", "static": static(""),
    })
    return render(request, "pwa/sw.js", {"settings_json": settings_json}, content_type="application/javascript")


@cache_control(no_cache=True)
def offline(request: HttpRequest) -> HttpResponse:
    """What the service worker shows when the server cannot be reached: the last score this
    browser saw (kept by static/js/credo.js), nothing else about the member."""
    return render(request, "pwa/offline.html")


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("icons/favicon.ico"), permanent=True)
