from typing import Any

from django.apps import AppConfig

COMPLETENESS_FIELDS = {"phone", "city", "bio", "avatar"}


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scores"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed

        from accounts.moderators import register_moderator_permissions
        from accounts.signals import profile_changed
        from scoring.signals import bases_changed
        from social.signals import friendship_ended, friendship_started

        profile_changed.connect(_on_profile_changed, dispatch_uid="scoring.profile_changed")
        email_confirmed.connect(_on_email_confirmed, dispatch_uid="scoring.email_confirmed")
        bases_changed.connect(_on_bases_changed, dispatch_uid="scoring.contagion_bases")
        friendship_started.connect(_on_friendship_changed, dispatch_uid="scoring.contagion_started")
        friendship_ended.connect(_on_friendship_changed, dispatch_uid="scoring.contagion_ended")
        register_moderator_permissions(
            "scoring.view_event", "scoring.change_event", "scoring.view_scorechange",
            "scoring.view_scorestate", "scoring.view_partner", "scoring.view_partnerconsent",
        )
        # Moderation (DESIGN.md §10): queues, the audit log (view only: nobody changes or deletes
        # it), and the actions; see scoring.admin_moderation.
        register_moderator_permissions(
            "scoring.view_dispute", "scoring.change_dispute", "scoring.view_flag", "scoring.change_flag",
            "scoring.view_auditentry", "scoring.moderate_events", "scoring.freeze_member",
            "scoring.undo_action", "scoring.view_suspicious_patterns", "scoring.export_csv",
        )
        import scoring.moderation_tasks  # noqa: F401  (registers the tasks with Celery)


def _on_profile_changed(sender: Any, user_id: int, fields: list[str], **kwargs: Any) -> None:
    if COMPLETENESS_FIELDS.intersection(fields):
        _rescore_profile(user_id)
    if "private_mode" in fields:
        from config.queue import enqueue_on_commit
        from scoring.tasks import contagion_edges_sync

        enqueue_on_commit(contagion_edges_sync, [user_id], "A friend left or joined the social game")


def _on_bases_changed(sender: Any, member_ids: list[int], **kwargs: Any) -> None:
    from django.conf import settings
    from django.db import transaction

    from config.queue import enqueue_on_commit
    from scoring.tasks import contagion_bases_sync

    ids = list(member_ids)
    if settings.SERVICES_MODE:  # a worker that fell behind takes them all at once (scoring/dirty.py)
        from scoring.dirty import contagion_mark

        transaction.on_commit(lambda: contagion_mark(ids), robust=True)
    enqueue_on_commit(contagion_bases_sync, ids)


def _on_friendship_changed(sender: Any, member_a_id: int, member_b_id: int, **kwargs: Any) -> None:
    # A friendship that just started usually counts only once vested (the periodic tick adds
    # it then); checking the pair now costs two small queries and covers CONTAGION_VESTING = 0.
    from config.queue import enqueue_on_commit
    from scoring.tasks import contagion_edges_sync
    from social.signals import friendship_ended

    ended = kwargs.get("signal") is friendship_ended
    enqueue_on_commit(contagion_edges_sync, [member_a_id, member_b_id],
                      "A friendship ended" if ended else "A new friendship counts")


def _on_email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    _rescore_profile(email_address.user_id)


def _rescore_profile(member_id: int) -> None:
    from config.queue import enqueue_on_commit
    from scoring.tasks import rescore_profile

    enqueue_on_commit(rescore_profile, member_id)
