from typing import Any

from django.apps import AppConfig

#: Fields of ``accounts.signals.profile_changed`` that move a member on or off boards.
LISTING_FIELDS = {"on_global_board", "private_mode", "is_frozen", "is_active"}


class LeaderboardsConfig(AppConfig):
    name = "leaderboards"
    verbose_name = "Leaderboards"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        import leaderboards.schema  # noqa: F401 - registers the OpenAPI auth extension
        from accounts.moderators import register_moderator_permissions
        from accounts.signals import profile_changed
        from scoring.signals import score_changed
        from social.signals import friendship_ended, friendship_started

        score_changed.connect(_on_score_changed, dispatch_uid="leaderboards.score_changed")
        profile_changed.connect(_on_profile_changed, dispatch_uid="leaderboards.profile_changed")
        friendship_started.connect(_on_friendship, dispatch_uid="leaderboards.friendship_started")
        friendship_ended.connect(_on_friendship, dispatch_uid="leaderboards.friendship_ended")
        user_logged_out.connect(_on_logged_out, dispatch_uid="leaderboards.user_logged_out")
        register_moderator_permissions("leaderboards.view_season", "leaderboards.view_seasonentry")


def _on_score_changed(sender: Any, member_id: int, old_score: int | None, new_score: int | None,
                      cause: str = "", **kwargs: Any) -> None:
    from leaderboards import services

    services.member_score_changed(member_id=member_id, old_score=old_score, new_score=new_score, cause=cause)


def _on_profile_changed(sender: Any, user_id: int, fields: list[str], **kwargs: Any) -> None:
    if LISTING_FIELDS.intersection(fields):
        from leaderboards import services

        services.member_listing_changed(member_id=user_id)


def _on_friendship(sender: Any, member_a_id: int, member_b_id: int, **kwargs: Any) -> None:
    from leaderboards import services

    services.friends_changed(member_ids=[member_a_id, member_b_id])


def _on_logged_out(sender: Any, user: Any = None, **kwargs: Any) -> None:
    if user is not None and getattr(user, "pk", None):
        from leaderboards import broadcast

        broadcast.auth_check(member_id=user.pk)
