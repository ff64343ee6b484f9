from django.apps import AppConfig


class LeaderboardsConfig(AppConfig):
    name = "leaderboards"
    verbose_name = "Leaderboards"

    def ready(self) -> None:
        # Apps are loaded here, so the modules that touch models can be imported: each
        # ``receivers`` module connects its receivers, each ``tasks`` module registers its tasks.
        # Boards listen before gamification: a batch reaches the boards, then perks, challenges
        # and badges, in that order.
        from accounts.members.moderators import register_moderator_permissions
        from leaderboards import privacy  # leaderboards' part of a member's data (accounts.privacy.registry)
        from leaderboards.boards import receivers as boards_receivers  # noqa: F401
        from leaderboards.boards import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from leaderboards.boards import tasks as boards_tasks  # noqa: F401
        from leaderboards.gamification import receivers as gamification_receivers  # noqa: F401
        from leaderboards.gamification import tasks as gamification_tasks  # noqa: F401
        from leaderboards.live import receivers as live_receivers  # noqa: F401

        register_moderator_permissions(
            "leaderboards.view_season", "leaderboards.view_seasonentry", "leaderboards.view_badgeaward",
            "leaderboards.view_challenge", "leaderboards.view_challengeparticipant",
        )
        privacy.register_sections()
