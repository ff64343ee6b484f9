"""Members' rights over their data: export everything, delete the account.

Export: ``data_export_request`` records a request and hands it to a task (after commit; eager in
embedded mode) that writes one JSON file to the ``exports`` storage (outside MEDIA_ROOT). The
file is downloaded through a signed link (``data_export_url``) valid for ``EXPORT_TTL``, and
``data_export_open`` checks the signature, its age, the export's expiry and the owner.

Deletion: ``member_delete`` removes personal data and keeps, anonymised, what record-keeping
requires (``KEPT`` and ``REMOVED`` say what and why; the confirmation page shows them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import timedelta
from typing import IO, Any

from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from accounts.members.models import User
from accounts.members.signals import profile_changed
from accounts.notifications.models import Notification, NotificationMute
from accounts.privacy.models import DataExport
from config.kernel.after_commit import enqueue_on_commit
from scoring.ingestion.models import Event, PartnerConsent
from scoring.ledger import selectors
from scoring.ledger.models import ScoreChange
from scoring.model import band_for
from scoring.moderation.models import AuditEntry, Dispute, Flag
from scoring.moderation.services import ModerationError

logger = logging.getLogger(__name__)

#: A ready export (and each signed link to it) works this long.
EXPORT_TTL = timedelta(days=1)
#: Export requests a member may make per rolling day.
MAX_EXPORTS_PER_DAY = 5
EXPORT_SIGNING_SALT = "credo.data-export"
EXPORT_FORMAT = "credo-export/1"


class PrivacyCode:
    EXPORT_NOT_READY = "export_not_ready"  # 409
    EXPORT_EXPIRED = "export_expired"  # 410
    BAD_SIGNATURE = "bad_signature"  # 403
    WRONG_PASSWORD = "wrong_password"  # 400  # noqa: S105  (an error code, not a password)
    CONFIRMATION_REQUIRED = "confirmation_required"  # 400
    RATE_LIMITED = "rate_limited"  # 429


def export_storage() -> Storage:
    return storages["exports"]


# --- export --------------------------------------------------------------------------------------


@transaction.atomic
def data_export_request(*, member: User) -> DataExport:
    """Queue a new export of everything about ``member``; the task builds it after commit."""

    User.objects.select_for_update().filter(pk=member.pk).first()  # the daily cap is check-then-act
    recent = DataExport.objects.filter(member=member, created_at__gt=timezone.now() - timedelta(days=1)).count()
    if recent >= MAX_EXPORTS_PER_DAY:
        raise ModerationError(f"You can ask for {MAX_EXPORTS_PER_DAY} exports a day; use the last one.",
                              status=429, code=PrivacyCode.RATE_LIMITED)
    export = DataExport.objects.create(member=member)
    enqueue_on_commit("accounts.privacy.tasks.data_export_build", export.pk)
    return export


def _event_row(e: Event) -> dict[str, Any]:
    return {
        "id": e.pk, "partner": e.partner.slug, "kind": e.kind, "amount": e.amount, "amount_paid": e.amount_paid,
        "currency": e.currency, "merchant_category": e.merchant_category, "occurred_at": e.occurred_at,
        "due_date": e.due_date, "paid_date": e.paid_date, "missed": e.missed, "status": e.status,
        "external_id": e.external_id, "received_at": e.received_at,
    }


def member_data(*, member: User) -> dict[str, Any]:
    """Everything Credo holds about the member, as JSON-ready values. Not included: what other
    members hold (their flags about you, their private notes), moderators' identities."""
    from allauth.account.models import EmailAddress

    from social.graph.models import Block, FriendRequest, Friendship
    from social.graph.selectors import outgoing_status
    from social.invitations.models import Invitation

    state = selectors.score_state(member=member)
    friendships = Friendship.objects.of_member(member.pk).select_related("member_a", "member_b").order_by("accepted_at")
    return {
        "format": EXPORT_FORMAT,
        "generated_at": timezone.now(),
        "profile": {
            "username": member.username, "email": member.email, "first_name": member.first_name,
            "last_name": member.last_name, "phone": member.phone, "city": member.city, "bio": member.bio,
            "avatar": member.avatar.name if member.avatar else "", "timezone": member.timezone,
            "date_joined": member.date_joined, "last_login": member.last_login,
            "email_addresses": [
                {"email": a.email, "verified": a.verified, "primary": a.primary}
                for a in EmailAddress.objects.filter(user=member)
            ],
        },
        "privacy": {"profile_visibility": member.profile_visibility, "on_global_board": member.on_global_board,
                    "private_mode": member.private_mode},
        "account": {"is_frozen": member.is_frozen, "frozen_at": member.frozen_at,
                    "frozen_until": member.frozen_until, "frozen_reason": member.frozen_reason},
        "score": None if state is None else {
            "score": state.score, "band": band_for(state.score), "base": state.base, "social": state.social,
            "factors": state.factors, "updated_at": state.updated_at,
        },
        "events": [_event_row(e) for e in selectors.member_events(member=member)],
        "ledger": [
            {"at": c.created_at, "cause": c.cause, "event": c.event_id, "old_score": c.old_score,
             "new_score": c.new_score, "old_base": c.old_base, "new_base": c.new_base, "old_social": c.old_social,
             "new_social": c.new_social, "explanation": c.explanation}
            for c in ScoreChange.objects.filter(member=member).order_by("created_at", "id")
        ],
        "friendships": [
            {"friend": (f.member_b if f.member_a_id == member.pk else f.member_a).username, "via": f.via,
             "since": f.accepted_at, "ended_at": f.ended_at, "ended_reason": f.ended_reason}
            for f in friendships
        ],
        "friend_requests": {
            "sent": [{"to": r.to_user.username, "at": r.created_at, "status": outgoing_status(r)}
                     for r in FriendRequest.objects.filter(from_user=member).select_related("to_user")],
            "received": [{"from": r.from_user.username, "at": r.created_at, "status": r.status}
                         for r in FriendRequest.objects.filter(to_user=member, muted=False)
                         .select_related("from_user")],
        },
        "blocks": [{"username": b.blocked.username, "at": b.created_at}
                   for b in Block.objects.filter(blocker=member).select_related("blocked")],
        "invitations": [{"email": i.email, "created_at": i.created_at, "expires_at": i.expires_at,
                         "used_at": i.used_at, "used_by": i.used_by.username if i.used_by else None}
                        for i in Invitation.objects.filter(inviter=member).select_related("used_by")],
        "partners": [{"partner": c.partner.slug, "connected_at": c.created_at, "disconnected_at": c.revoked_at}
                     for c in PartnerConsent.objects.filter(member=member).select_related("partner")],
        "disputes": [{"id": d.pk, "event": d.event_id, "reason": d.reason, "status": d.status,
                      "created_at": d.created_at, "resolved_at": d.resolved_at, "resolution": d.resolution}
                     for d in Dispute.objects.filter(member=member)],
        "flags_made": [{"username": f.target.username, "reason": f.reason, "status": f.status,
                        "created_at": f.created_at}
                       for f in Flag.objects.filter(reporter=member).select_related("target")],
        "notifications": [{"at": n.created_at, "kind": n.kind, "text": n.text, "link": n.link, "read_at": n.read_at}
                          for n in Notification.objects.filter(member=member).order_by("created_at", "id")],
        "moderation": [{"at": a.created_at, "action": a.action, "reason": a.reason}
                       for a in AuditEntry.objects.filter(member=member).exclude(action=AuditEntry.Action.CSV_EXPORT)],
    }


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
    from scoring.moderation.services import NotFound

    export = DataExport.objects.filter(pk=export_id, member=member).first()
    if export is None:
        raise NotFound()
    try:
        value = signing.TimestampSigner(salt=EXPORT_SIGNING_SALT).unsign(signature, max_age=EXPORT_TTL)
    except signing.SignatureExpired as exc:
        raise ModerationError("This link has expired: ask for it again.", status=410,
                              code=PrivacyCode.EXPORT_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise ModerationError("This link is not valid.", status=403, code=PrivacyCode.BAD_SIGNATURE) from exc
    if value != f"{export.pk}.{member.pk}":
        raise ModerationError("This link is not valid.", status=403, code=PrivacyCode.BAD_SIGNATURE)
    if export.status == DataExport.Status.PENDING:
        raise ModerationError("Your export is being prepared.", status=409, code=PrivacyCode.EXPORT_NOT_READY)
    if export.status != DataExport.Status.READY or (export.expires_at and export.expires_at <= timezone.now()):
        raise ModerationError("This export has expired: ask for a new one.", status=410,
                              code=PrivacyCode.EXPORT_EXPIRED)
    return export, export_storage().open(export.file_name, "rb")


def data_exports_expire(*, now: Any = None) -> int:
    """Periodic: delete the files of exports past their expiry (the rows stay, as expired)."""
    now = now or timezone.now()
    done = 0
    for export in DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=now):
        _delete_file(export.file_name)
        done += DataExport.objects.filter(pk=export.pk, status=DataExport.Status.READY).update(
            status=DataExport.Status.EXPIRED, file_name=""
        )
    return done


def _delete_file(name: str) -> None:
    if not name:
        return
    try:
        export_storage().delete(name)
    except OSError:
        logger.warning("could not delete export file %s", name)


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


def _anonymous_reference(partner_id: int, external_id: str) -> str:
    digest = hashlib.sha256(f"{partner_id}:{external_id}".encode()).hexdigest()
    return f"deleted:{digest[:64]}"


@transaction.atomic
def member_delete(*, member: User, password: str, confirm: bool = True) -> dict[str, Any]:
    """Delete the member's account after re-checking their password (see ``REMOVED``, ``KEPT``).

    Friends' contagion is reversed exactly through ``friendship_ended`` (after commit), and the
    member leaves the boards (inactive; ``profile_changed`` after commit).
    """
    from allauth.account.models import EmailAddress
    from knox.models import AuthToken

    from social.graph.services import member_graph_leave

    if not confirm:
        raise ModerationError("Confirm that you want to delete your account.",
                              code=PrivacyCode.CONFIRMATION_REQUIRED)
    if not password or not member.check_password(password):
        raise ModerationError("Wrong password.", code=PrivacyCode.WRONG_PASSWORD)
    locked = User.objects.select_for_update().get(pk=member.pk)
    if locked.is_frozen:
        from accounts.auth.permissions import ACCOUNT_FROZEN

        raise ModerationError("Your account is frozen: it cannot be deleted until the freeze ends.",
                              status=403, code=ACCOUNT_FROZEN)
    old_username, now = locked.username, timezone.now()
    friendships_ended = member_graph_leave(member=locked)
    PartnerConsent.objects.filter(member=locked, revoked_at__isnull=True).update(revoked_at=now)
    AuthToken.objects.filter(user=locked).delete()
    EmailAddress.objects.filter(user=locked).delete()
    Notification.objects.filter(member=locked).delete()
    NotificationMute.objects.filter(member=locked).delete()
    export_files = list(DataExport.objects.filter(member=locked).values_list("file_name", flat=True))
    DataExport.objects.filter(member=locked).delete()
    for event in Event.objects.filter(member=locked).only("pk", "partner_id", "external_id"):
        if not event.external_id.startswith("deleted:"):
            Event.objects.filter(pk=event.pk).update(
                external_id=_anonymous_reference(event.partner_id, event.external_id), merchant_category=""
            )
    prefix = f"{old_username}: "
    ScoreChange.objects.filter(cause=ScoreChange.Cause.CONTAGION, explanation__startswith=prefix).exclude(
        member=locked
    ).update(explanation=Concat(Value("A former friend: "), Substr("explanation", len(prefix) + 1)))
    avatar: str = (locked.avatar.name or "") if locked.avatar else ""
    locked.username = f"deleted-{locked.pk}"
    locked.email = locked.first_name = locked.last_name = locked.phone = locked.city = locked.bio = ""
    locked.avatar = ""  # type: ignore[assignment]
    locked.timezone = "UTC"
    locked.is_active = False
    locked.on_global_board = False
    locked.profile_visibility = User.Visibility.FRIENDS
    locked.set_unusable_password()
    locked.save()
    _forget_login_failures(old_username)
    # The profile is gone, so its completeness too: the stored score stays what a rebuild computes.
    from scoring.ledger.services import member_rescore

    member_rescore(member_id=locked.pk, cause=ScoreChange.Cause.PROFILE, explanation="Account deleted, profile removed")
    member_id = locked.pk
    transaction.on_commit(lambda: _delete_files(avatar, export_files), robust=True)
    transaction.on_commit(
        lambda: profile_changed.send(sender=User, user_id=member_id, fields=["is_active", "on_global_board"]),
        robust=True,
    )
    return {"deleted": True, "username": locked.username, "friendships_ended": friendships_ended,
            "removed": REMOVED, "kept": KEPT}


def _forget_login_failures(username: str) -> None:
    try:
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    except ImportError:  # pragma: no cover - axes is installed
        return
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        model.objects.filter(username=username).delete()


def _delete_files(avatar: str, export_files: list[str]) -> None:
    from django.core.files.storage import default_storage

    if avatar:
        try:
            default_storage.delete(avatar)
        except OSError:
            logger.warning("could not delete avatar %s", avatar)
    for name in export_files:
        _delete_file(name)


def exports_of(*, member: User) -> list[DataExport]:
    return list(DataExport.objects.filter(member=member)[:10])

