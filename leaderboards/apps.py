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
        from accounts.signals import notifications_created, profile_changed
        from leaderboards import badges, perks
        from scoring.signals import bases_changed, dispute_decided, score_changed, scores_changed
        from social.signals import friendship_ended, friendship_started

        # Scores moved (a batch: a scoring batch, a contagion pass): boards and one live publish
        # per member, perks (only members who crossed a perk's line), challenge points (one
        # query for the batch), band badges (one task for the batch, if a band rose). Each
        # receiver is set-based: its queries must not grow with the batch. One member's change
        # (``score_changed``) is handed to the same receivers as a batch of one.
        scores_changed.connect(_on_scores_changed, dispatch_uid="leaderboards.scores_changed")
        scores_changed.connect(perks.on_scores_changed, dispatch_uid="leaderboards.perks.scores_changed")
        scores_changed.connect(_on_scores_changed_challenges, dispatch_uid="leaderboards.challenges.scores_changed")
        scores_changed.connect(badges.on_scores_changed, dispatch_uid="leaderboards.badges.scores_changed")
        score_changed.connect(_on_score_changed, dispatch_uid="leaderboards.score_changed")
        bases_changed.connect(badges.on_bases_changed, dispatch_uid="leaderboards.badges.bases_changed")
        dispute_decided.connect(badges.on_dispute_decided, dispatch_uid="leaderboards.badges.dispute_decided")

        profile_changed.connect(_on_profile_changed, dispatch_uid="leaderboards.profile_changed")
        profile_changed.connect(perks.on_profile_changed, dispatch_uid="leaderboards.perks.profile_changed")

        friendship_started.connect(_on_friendship, dispatch_uid="leaderboards.friendship_started")
        friendship_started.connect(badges.on_friendship_started, dispatch_uid="leaderboards.badges.friendship_started")
        friendship_ended.connect(_on_friendship, dispatch_uid="leaderboards.friendship_ended")

        notifications_created.connect(_on_notifications_created, dispatch_uid="leaderboards.notifications_created")
        user_logged_out.connect(_on_logged_out, dispatch_uid="leaderboards.user_logged_out")

        register_moderator_permissions(
            "leaderboards.view_season", "leaderboards.view_seasonentry", "leaderboards.view_badgeaward",
            "leaderboards.view_challenge", "leaderboards.view_challengeparticipant",
        )


def _on_score_changed(sender: Any, member_id: int, old_score: int | None, new_score: int | None,
                      cause: str = "", explanation: str = "", **kwargs: Any) -> None:
    """One member's score moved: the batch receivers, with a batch of one."""
    from leaderboards import badges, perks

    changes = [{"member_id": member_id, "old_score": old_score, "new_score": new_score, "cause": cause,
                "explanation": explanation}]
    _on_scores_changed(sender, changes=changes)
    perks.on_scores_changed(sender, changes=changes)
    _on_scores_changed_challenges(sender, changes=changes)
    badges.on_scores_changed(sender, changes=changes)


def _on_scores_changed(sender: Any, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    from leaderboards import services

    services.members_scores_changed(changes=changes)


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


def _on_notifications_created(sender: Any, notifications: list[tuple[int, int]], **kwargs: Any) -> None:
    """Push new notifications, each with its member's unread count, to their open sockets
    (one query for all of them)."""
    from accounts.notifications import live_payloads
    from leaderboards import broadcast
    from leaderboards.protocol import MessageType

    payloads = live_payloads(notification_ids=[notification_id for notification_id, _ in notifications])
    for notification_id, member_id in notifications:
        if notification_id in payloads:
            broadcast.member_push(member_id=member_id,
                                  payload={"type": MessageType.NOTIFICATION, **payloads[notification_id]})


def _on_scores_changed_challenges(sender: Any, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    """Live challenge points. Best effort: the finish recomputes final points from the ledger,
    so a failure here must never fail the scoring pipeline that sent the signal."""
    from leaderboards import challenges

    member_ids = [change["member_id"] for change in changes]
    try:
        challenges.challenge_members_score_changed(member_ids=member_ids)
    except Exception:
        import logging

        logging.getLogger("leaderboards.challenges").exception("challenge standings of %s not updated", member_ids)
