from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import notifications_views
from accounts import views as account_views
from config import views

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("social.urls")),
    path("", include("scoring.urls")),
    path("", include("scoring.progress_urls")),  # streak, progress to the next band
    path("", include("leaderboards.perks_urls")),  # me/perks/
    path("", include("scoring.moderation_urls")),
    path("", include("leaderboards.urls")),
    path("", include("leaderboards.honour_urls")),
    path("", include("leaderboards.challenges_urls")),  # challenges between friends
    path("", include("leaderboards.badges_urls")),
]

urlpatterns = [
    path("", account_views.landing, name="landing"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/cards/", views.dashboard_cards, name="dashboard-cards"),
    path("settings/", account_views.settings_page, name="settings"),
    path("notifications/", notifications_views.notifications_page, name="notifications"),
    path("notifications/read-all/", notifications_views.notifications_read, name="notifications-read"),
    path("", include("scoring.web_urls")),
    path("", include("scoring.moderation_web_urls")),
    path("friends/", include("social.web_urls")),
    path("leaderboard/", include("leaderboards.web_urls")),
    path("members/", include("leaderboards.honour_web_urls")),
    path("perks/", include("leaderboards.perks_web_urls")),
    path("challenges/", include("leaderboards.challenges_web_urls")),
    path("badges/", include("leaderboards.badges_web_urls")),
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
