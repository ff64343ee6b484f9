from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Members"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts.members.moderators import sync_moderator_permissions
        from accounts.privacy import tasks as privacy_tasks  # noqa: F401  (registers the tasks with Celery)

        # Permissions of every app exist only after its migrations ran, so the Moderators
        # group's permission list is synced after each migrate, not inside a migration.
        post_migrate.connect(sync_moderator_permissions, dispatch_uid="credo.sync_moderators")
