from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Friends"

    def ready(self) -> None:
        # Apps are loaded here, so the modules that touch models can be imported.
        from accounts.members.moderators import register_moderator_permissions
        from social import privacy  # social's part of a member's data (accounts.privacy.registry)
        from social.invitations import receivers  # noqa: F401  (connects the receivers)

        # Moderators review the friend graph and cut fraudulent friendships (DESIGN.md §10):
        # "change" on Friendship is what the admin's cut action requires. Nothing is ever
        # deleted, and invitations are read-only (they never show a token).
        register_moderator_permissions(
            "social.view_friendship",
            "social.change_friendship",
            "social.view_friendrequest",
            "social.view_block",
            "social.view_invitation",
        )
        privacy.register_sections()
