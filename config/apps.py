from django.contrib.admin.apps import AdminConfig


class CredoAdminConfig(AdminConfig):
    """The Django admin, served by Credo's site (moderators may use it without being superusers)."""

    default_site = "config.admin_site.CredoAdminSite"
