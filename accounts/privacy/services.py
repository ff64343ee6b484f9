"""Members' rights over their data: export everything, delete the account.

Export: ``data_export_request`` records a request and hands it to a task (after commit; eager in
embedded mode) that writes one JSON file to the ``exports`` storage (outside MEDIA_ROOT). The
file is downloaded through a signed link (``data_export_signature``) valid for ``EXPORT_TTL``, and
``data_export_open`` checks the signature, its age, the export's expiry and the owner.

Deletion: ``member_delete`` removes personal data and keeps, anonymised, what record-keeping
requires (``KEPT`` and ``REMOVED`` say what and why; the confirmation page shows them).

Both go through the sections every app registers (``accounts.privacy.registry``): this module
knows no app above accounts.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import IO, Any

from django.core import signing
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.members.models import User
from accounts.members.signals import profile_changed
from accounts.privacy import registry
from accounts.privacy.errors import (
    BadSignature,
    ConfirmationRequired,
    ExportExpired,
    ExportNotReady,
    ExportRateLimited,
    FrozenAccount,
    WrongPassword,
)
from accounts.privacy.models import DataExport
from accounts.privacy.storage import export_file_delete, export_storage
from config.kernel import locks
from config.kernel.after_commit import enqueue_on_commit, send_on_commit
from config.kernel.errors import NotFound

#: A ready export (and each signed link to it) works this long.
EXPORT_TTL = timedelta(days=1)
#: Export requests a member may make per rolling ``EXPORT_CAP_WINDOW``.
MAX_EXPORTS_PER_DAY = 5
EXPORT_CAP_WINDOW = timedelta(days=1)
#: A member's exports listed at most (the newest).
EXPORTS_LISTED = 10
EXPORT_SIGNING_SALT = "credo.data-export"
EXPORT_FORMAT = "credo-export/1"


# --- export --------------------------------------------------------------------------------------


@transaction.atomic
def data_export_request(*, member: User) -> DataExport:
    """Queue a new export of everything about ``member``; the task builds it after commit."""
    locks.member_ids_lock([member.pk])  # the daily cap is check-then-act
    recent = DataExport.objects.filter(member=member, created_at__gt=timezone.now() - EXPORT_CAP_WINDOW).count()
    if recent >= MAX_EXPORTS_PER_DAY:
        raise ExportRateLimited(f"You can ask for {MAX_EXPORTS_PER_DAY} exports a day; use the last one.")
    export = DataExport.objects.create(member=member)
    enqueue_on_commit("accounts.privacy.tasks.data_export_build", export.pk)
    return export


def member_data(*, member: User) -> dict[str, Any]:
    """Everything Credo holds about the member, as JSON-ready values: one key per registered
    section, in registration order. Not included: what other members hold (their flags about
    you, their private notes), moderators' identities, and the models each app declares
    ``leave_out`` (with the reason)."""
    data: dict[str, Any] = {"format": EXPORT_FORMAT, "generated_at": timezone.now()}
    for section in registry.sections():
        data[section.name] = section.export(member)
    return data


def data_export_build(*, export_id: int) -> DataExport:
    """Write the export's JSON file and mark it ready (idempotent: a ready export is left as is)."""
    export = DataExport.objects.select_related("member").get(pk=export_id)
    if export.status != DataExport.Status.PENDING:
        return export
    payload = json.dumps(member_data(member=export.member), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    raw = payload.encode()
    name = export_storage().save(
        f"{export.member_id}/credo-export-{export.pk}-{secrets.token_hex(16)}.json", ContentFile(raw)
    )
    now = timezone.now()
    DataExport.objects.filter(pk=export.pk, status=DataExport.Status.PENDING).update(
        status=DataExport.Status.READY, file_name=name, size=len(raw), ready_at=now, expires_at=now + EXPORT_TTL
    )
    export.refresh_from_db()
    return export


def data_export_fail(*, export_id: int) -> None:
    DataExport.objects.filter(pk=export_id, status=DataExport.Status.PENDING).update(status=DataExport.Status.FAILED)


def data_export_signature(export: DataExport) -> str:
    return signing.TimestampSigner(salt=EXPORT_SIGNING_SALT).sign(f"{export.pk}.{export.member_id}")


def data_export_open(*, export_id: int, member: User, signature: str) -> tuple[DataExport, IO[bytes]]:
    """The export's file, for its owner, with a valid signature younger than ``EXPORT_TTL``.

    Someone else's export, or an unknown id: ``NotFound``.
    """
    export = DataExport.objects.filter(pk=export_id, member=member).first()
    if export is None:
        raise NotFound()
    try:
        value = signing.TimestampSigner(salt=EXPORT_SIGNING_SALT).unsign(signature, max_age=EXPORT_TTL)
    except signing.SignatureExpired as exc:
        raise ExportExpired("This link has expired: ask for it again.") from exc
    except signing.BadSignature as exc:
        raise BadSignature() from exc
    if value != f"{export.pk}.{member.pk}":
        raise BadSignature()
    if export.status == DataExport.Status.PENDING:
        raise ExportNotReady()
    if export.status != DataExport.Status.READY or (export.expires_at and export.expires_at <= timezone.now()):
        raise ExportExpired()
    return export, export_storage().open(export.file_name, "rb")


def data_exports_expire(*, now: Any = None) -> int:
    """Periodic: delete the files of exports past their expiry (the rows stay, as expired)."""
    now = now or timezone.now()
    done = 0
    for export in DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=now):
        export_file_delete(export.file_name)
        done += DataExport.objects.filter(pk=export.pk, status=DataExport.Status.READY).update(
            status=DataExport.Status.EXPIRED, file_name=""
        )
    return done


# --- account deletion ----------------------------------------------------------------------------

#: What deletion removes, for the confirmation page and the API answer.
REMOVED = [
    "Your username (replaced by “deleted-<number>”), email addresses, name, phone, city, bio and photo.",
    "Your password and every login token: nobody can sign in to the account again.",
    "Your friendships (ended: your friends' scores no longer include you), friend requests, "
    "blocks and open invitations, with the addresses you sent invitations to.",
    "Your partner connections: no partner can send events about you any more.",
    "Your notifications (and which kinds you muted) and data exports; you leave every leaderboard.",
    "Lines in your former friends' score history that named you now say “A former friend”.",
]
#: What is kept, anonymised, and why.
KEPT = [
    "Your payment events, anonymised (no name, the partner's reference replaced by a one-way hash, "
    "merchant category removed): they are the partners' financial records that your score, your "
    "former friends' scores and any dispute were computed from, and Credo must be able to show how "
    "every point was computed (record-keeping and the audit of moderators' decisions).",
    "Your score history (the ledger), attached to the anonymous account, for the same reason.",
    "Disputes and flags you raised, and moderators' decisions about your account: the moderation "
    "audit log is append-only so that every moderator action stays accountable.",
]


@transaction.atomic
def member_delete(*, member: User, password: str, confirm: bool = True) -> dict[str, Any]:
    """Delete the member's account after re-checking their password (see ``REMOVED``, ``KEPT``).

    With the member's row locked, each registered section's deletion step runs, in registration
    order: accounts blanks the account (so the score recomputed later has no profile in it),
    social takes the member out of the friend graph (friends' contagion is reversed exactly
    through ``friendship_ended`` after commit), scoring anonymises and rescores. The member then
    leaves the boards (inactive; ``profile_changed`` after commit).
    """
    if not confirm:
        raise ConfirmationRequired()
    if not password or not member.check_password(password):
        raise WrongPassword()
    locked = locks.member_lock(member.pk)
    if locked.is_frozen:
        raise FrozenAccount()
    deletion = registry.Deletion(former_username=locked.username, at=timezone.now())
    facts: dict[str, Any] = {}
    for section in registry.sections():
        if section.delete is not None:
            facts.update(section.delete(locked, deletion) or {})
    send_on_commit(profile_changed, sender=User, user_id=locked.pk, fields=["is_active", "on_global_board"])
    return {"deleted": True, "username": locked.username, **facts, "removed": REMOVED, "kept": KEPT}


def exports_of(*, member: User) -> list[DataExport]:
    return list(DataExport.objects.filter(member=member)[:EXPORTS_LISTED])

