"""The installable web app and the browser security headers (config.views, config.urls).

The browser side (the worker controlling the page, the offline page when the server is down) is in
tests/config/test_tour.py; these check what the server answers."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from config import views

pytestmark = pytest.mark.django_db


def test_the_manifest_names_the_app_its_icons_theme_and_start(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    body = response.json()
    assert (body["name"], body["short_name"], body["start_url"], body["scope"], body["display"]) == (
        "Credo", "Credo", "/dashboard/?source=app", "/", "standalone")
    assert (body["theme_color"], body["background_color"]) == ("#0f766e", "#f6f7f9")
    assert body["icons"] == [
        {"src": "/static/icons/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
        {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/maskable-192.png", "sizes": "192x192", "type": "image/png", "purpose": "maskable"},
        {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ]


@pytest.mark.parametrize(("name", "size"), [("icon-192.png", 192), ("icon-512.png", 512), ("maskable-192.png", 192),
                                            ("maskable-512.png", 512), ("apple-touch-icon.png", 180)])
def test_every_png_icon_exists_at_its_size(name, size):
    from PIL import Image

    path = finders.find(f"icons/{name}")
    assert isinstance(path, str)
    with Image.open(path) as image:
        assert image.size == (size, size)


def test_the_service_worker_is_served_from_the_root_uncached_with_the_shell(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert "no-cache" in response["Cache-Control"]
    text = response.content.decode()
    for name in views.SHELL_STATIC:
        assert f'"/static/{name}"' in text
    assert '"offline": "/offline/"' in text
    assert f'"version": "{views._shell_version()}"' in text
    assert "&quot;" not in text  # not HTML-escaped


def test_the_offline_page_holds_nothing_about_anyone(client, alice):
    client.force_login(alice)
    response = client.get("/offline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>You are offline</h1>" in html and '<script src="/static/js/offline.js" defer></script>' in html
    assert "alice" not in html


def test_every_page_links_the_manifest_and_icons_and_the_dashboard_keeps_the_last_score(client, alice):
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png">' in html
    assert '<link rel="icon" href="/static/icons/icon.svg" type="image/svg+xml">' in html
    assert 'class="card score-panel" data-last-score="' in html
    assert 'class="inline" data-logout>' in html  # logging out forgets the last score


def test_the_favicon_is_the_apps_icon(client):
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/icons/favicon.ico")


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/manifest.webmanifest", "/sw.js", "/offline/",
                                  "/no-such-page/", "/api/v1/no-such-endpoint/"])
def test_every_response_carries_the_csp_and_permissions_policy(client, path, settings):
    settings.DEBUG = False
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                      "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    policy = response["Permissions-Policy"]
    assert "camera=()" in policy and "geolocation=()" in policy and "microphone=()" in policy
    assert "publickey-credentials-get=(self)" in policy


def test_the_api_docs_need_no_inline_script(client, alice):
    client.force_login(alice)
    html = client.get("/api/docs/").content.decode()
    assert "<script>" not in html and "<style>" not in html
    assert '<script src="/api/docs/?script=">' in html
