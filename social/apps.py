from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Friends"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.moderators import register_moderator_permissions
        from social.receivers import accept_pending_invitation

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
        user_logged_in.connect(accept_pending_invitation, dispatch_uid="social.accept_pending_invitation")
