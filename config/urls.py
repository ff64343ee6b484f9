from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as account_views
from config import views

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("social.urls")),
    path("", include("scoring.urls")),
    path("", include("scoring.moderation_urls")),
    path("", include("leaderboards.urls")),
]

urlpatterns = [
    path("", account_views.landing, name="landing"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("settings/", account_views.settings_page, name="settings"),
    path("", include("scoring.web_urls")),
    path("", include("scoring.moderation_web_urls")),
    path("friends/", include("social.web_urls")),
    path("leaderboard/", include("leaderboards.web_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
