"""Every app's routes: each sub-package brings its web pages (``web_urls``) and its API (``urls``,
under /api/v1/). No two of them claim the same path."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import views
from config.kernel import openapi  # noqa: F401  (registers the schema's extensions: strict bodies)

api_v1 = [
    path("", include("accounts.auth.urls")),
    path("", include("accounts.notifications.urls")),
    path("", include("social.urls")),
    path("", include("scoring.ingestion.urls")),
    path("", include("scoring.explain.urls")),
    path("", include("scoring.progress.urls")),
    path("", include("scoring.moderation.urls")),
    path("", include("scoring.partners.urls")),
    path("", include("scoring.partners.webhook_urls")),
    path("", include("accounts.privacy.urls")),
    path("", include("leaderboards.boards.urls")),
    path("", include("leaderboards.sockets.urls")),
    path("", include("leaderboards.gamification.urls")),
]

urlpatterns = [
    # The installable web app: these live at the root (a service worker controls its own folder).
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("offline/", views.offline, name="offline"),
    path("favicon.ico", views.favicon),
    path("", include("accounts.members.web_urls")),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/cards/", views.dashboard_cards, name="dashboard-cards"),
    path("", include("accounts.notifications.web_urls")),
    path("", include("scoring.explain.web_urls")),
    path("", include("scoring.ingestion.web_urls")),
    path("", include("scoring.moderation.web_urls")),
    path("", include("accounts.privacy.web_urls")),
    path("friends/", include("social.web_urls")),
    path("", include("leaderboards.boards.web_urls")),
    path("", include("leaderboards.gamification.web_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("config.operations.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
