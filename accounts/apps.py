from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Members"

    def ready(self) -> None:
        # Apps are loaded here, so the modules that touch models can be imported: ``receivers``
        # connects its receivers, ``tasks`` registers its tasks, ``sections`` accounts' part of
        # a member's data (first: the export and the deletion follow registration order).
        from accounts.auth import receivers as auth_receivers  # noqa: F401
        from accounts.members import receivers  # noqa: F401
        from accounts.privacy import sections, tasks  # noqa: F401

        sections.register_sections()
