"""Members connect and disconnect partners (consent to receive their events)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.members.models import User
from config.kernel.errors import DomainError
from scoring.ingestion.errors import Code
from scoring.ingestion.models import Partner, PartnerConsent
from scoring.ingestion.signals import consent_revoked


class AlreadyConnected(DomainError):
    """The member already has a live consent for this partner."""

    status, code, detail = 409, Code.ALREADY_CONNECTED, "This partner is already connected."


def consents_live(*, member: User) -> QuerySet[PartnerConsent]:
    return PartnerConsent.objects.filter(member=member, revoked_at__isnull=True).select_related("partner")


def partners_available(*, member: User) -> QuerySet[Partner]:
    # One subquery, not exclude() across the relation: that would also drop a partner the member
    # once disconnected (a revoked consent for the member + a live one from anyone).
    live = PartnerConsent.objects.filter(member=member, revoked_at__isnull=True).values("partner_id")
    return Partner.objects.filter(is_active=True).exclude(pk__in=live)


def consent_grant(*, member: User, partner: Partner) -> PartnerConsent:
    """Allow ``partner`` to send this member's events. Raises ``AlreadyConnected``."""
    try:
        with transaction.atomic():
            return PartnerConsent.objects.create(member=member, partner=partner)
    except IntegrityError as exc:  # the partial unique constraint: one live consent
        raise AlreadyConnected(f"{partner.name} is already connected.") from exc


@transaction.atomic
def consent_revoke(*, member: User, partner: Partner) -> bool:
    """Stop ``partner`` from sending events from now on; events already sent stay scored. The
    partner hears of it (``consent_revoked``, in this transaction). False if it was not connected."""
    now = timezone.now()
    revoked = PartnerConsent.objects.filter(member=member, partner=partner, revoked_at__isnull=True).update(
        revoked_at=now)
    if revoked:
        consent_revoked.send(sender=PartnerConsent, member_id=member.pk, username=member.username,
                             partner_id=partner.pk, revoked_at=now)
    return bool(revoked)
