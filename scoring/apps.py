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

        profile_changed.connect(_on_profile_changed, dispatch_uid="scoring.profile_changed")
        email_confirmed.connect(_on_email_confirmed, dispatch_uid="scoring.email_confirmed")
        register_moderator_permissions(
            "scoring.view_event", "scoring.change_event", "scoring.view_scorechange",
            "scoring.view_scorestate", "scoring.view_partner", "scoring.view_partnerconsent",
        )


def _on_profile_changed(sender: Any, user_id: int, fields: list[str], **kwargs: Any) -> None:
    if COMPLETENESS_FIELDS.intersection(fields):
        _rescore_profile(user_id)


def _on_email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    _rescore_profile(email_address.user_id)


def _rescore_profile(member_id: int) -> None:
    from config.queue import enqueue_on_commit
    from scoring.tasks import rescore_profile

    enqueue_on_commit(rescore_profile, member_id)
