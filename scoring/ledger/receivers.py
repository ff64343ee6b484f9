"""The ledger listens: a profile or a verified email that counts toward completeness rescores."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import email_confirmed
from django.dispatch import receiver

from accounts.members.signals import profile_changed
from config.kernel.after_commit import enqueue_on_commit

#: Profile fields that count toward completeness (DESIGN.md §2): changing one rescores.
COMPLETENESS_FIELDS = {"phone", "city", "bio", "avatar"}


@receiver(profile_changed, dispatch_uid="scoring.profile_changed")
def on_profile_changed(sender: Any, user_id: int, fields: list[str], **kwargs: Any) -> None:
    if COMPLETENESS_FIELDS.intersection(fields):
        enqueue_on_commit("scoring.ledger.tasks.rescore_profile", user_id)


@receiver(email_confirmed, dispatch_uid="scoring.email_confirmed")
def on_email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    enqueue_on_commit("scoring.ledger.tasks.rescore_profile", email_address.user_id)
