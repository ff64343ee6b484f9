"""Partner-signed requests beyond ingestion (DESIGN.md §8 "Partner status and webhooks").

``PartnerSignatureAuthentication`` authenticates a request signed with a partner's key, like
ingestion (``scoring.ingestion.partners.verify_signature``): ``X-Credo-Key``,
``X-Credo-Timestamp`` and ``X-Credo-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." +
payload>`` where the payload is

* the raw body, for a request that has one (POST, PUT, PATCH);
* the path with its query string, exactly as sent (``/api/v1/partner/events/?status=scored``),
  for a request without a body (GET, HEAD, DELETE): a signature made for one query does not
  authenticate another.

``request.auth`` is the ``Partner``; ``request.user`` is a ``PartnerPrincipal`` (authenticated,
never a member: it has no member id, so no member view can serve it — ``accounts.members.access``
refuses anything but a member). Refusals are ingestion's 401 codes (``SignatureCode``), and an
address whose signed requests keep failing is refused before any work (429, the
``partner_refused`` throttle scope, shared with ingestion). ``PARTNER_SIGNED`` documents the
headers in OpenAPI.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from config.kernel import json_limits
from config.kernel.openapi import errors
from config.kernel.throttles import RefusalThrottle
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import SignatureCode, SignatureError, verify_signature

#: Methods whose signature covers the path and query (they carry no body).
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class PartnerPrincipal:
    """Who ``request.user`` is on a partner-signed request: authenticated (DRF's ``IsAuthenticated``
    and the per-user throttle work as for a member, keyed ``partner:<id>``), never staff, never a
    member, never frozen."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_frozen = False

    def __init__(self, partner: Partner) -> None:
        self.partner = partner
        self.pk = f"partner:{partner.pk}"
        self.username = f"partner:{partner.slug}"

    def __str__(self) -> str:
        return self.username


def signed_payload(request: Request) -> bytes:
    """What the signature covers: the raw body, or for a bodyless method the path with its query."""
    if request.method in BODYLESS_METHODS:
        return request._request.get_full_path().encode()
    return json_limits.request_body(request._request)


class PartnerSignatureAuthentication(BaseAuthentication):
    """Authenticates a partner-signed request (see the module); raises the 401 of ``SignatureError``
    on a missing, unknown, revoked, stale or wrong signature."""

    def authenticate(self, request: Request) -> tuple[PartnerPrincipal, Partner]:
        refusals = RefusalThrottle("partner_refused")
        wait = refusals.blocked(request)
        if wait is not None:
            raise exceptions.Throttled(wait)
        try:
            partner = verify_signature(
                key_id=request.headers.get("X-Credo-Key", ""),
                timestamp=request.headers.get("X-Credo-Timestamp", ""),
                signature=request.headers.get("X-Credo-Signature", ""),
                body=signed_payload(request),
            )
        except SignatureError as exc:
            refusals.record(request)
            # DRF's own 401: the handler keeps its code, and DRF sends WWW-Authenticate with it.
            raise exceptions.AuthenticationFailed(exc.detail, code=exc.code) from exc
        return PartnerPrincipal(partner), partner

    def authenticate_header(self, request: Request) -> str:
        # A 401 needs a challenge (else DRF answers 403): name the scheme.
        return 'Credo-Signature realm="partner"'


class IsPartner(BasePermission):
    """Only a partner-signed request (``request.auth`` is the ``Partner``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Partner)


def partner_of(request: Request) -> Partner:
    """The partner that signed ``request`` (behind ``IsPartner``)."""
    partner = request.auth
    if not isinstance(partner, Partner):  # a view without IsPartner: a programming error
        raise exceptions.NotAuthenticated()
    return partner


#: The signature's codes a partner-signed operation answers with (401).
SIGNATURE_CODES = [SignatureCode.MISSING, SignatureCode.UNKNOWN_KEY, SignatureCode.REVOKED, SignatureCode.STALE,
                   SignatureCode.BAD]
#: A signed operation's 401, for its OpenAPI ``responses``.
SIGNED_401 = errors({401: SIGNATURE_CODES},
                    _401="The signature headers are missing, or the key or the signature is refused.")

_SIGNATURE = ('`sha256=<hex HMAC-SHA256 of "<timestamp>." + payload>` with the key\'s secret, where the payload is '
              "the raw body (a request with a body) or the path with its query string exactly as sent, e.g. "
              "`/api/v1/partner/events/?status=scored` (a GET).")

#: The headers of a partner-signed request, for ``extend_schema(parameters=...)``.
PARTNER_SIGNED = [
    OpenApiParameter("X-Credo-Key", str, OpenApiParameter.HEADER, required=True,
                     description="The key id issued to the partner (`ck_…`)."),
    OpenApiParameter("X-Credo-Timestamp", str, OpenApiParameter.HEADER, required=True,
                     description="Unix seconds when the request was signed: within "
                                 "`PARTNER_SIGNATURE_TOLERANCE_SECONDS` (300) of our clock."),
    OpenApiParameter("X-Credo-Signature", str, OpenApiParameter.HEADER, required=True, description=_SIGNATURE),
]


class PartnerSignatureScheme(OpenApiAuthenticationExtension):
    """OpenAPI: the partner signature as a security scheme (the key id; the signature headers are
    each operation's parameters)."""

    target_class = "scoring.partners.auth.PartnerSignatureAuthentication"
    name = "partnerSignature"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "X-Credo-Key",
                "description": "A partner's key id, with `X-Credo-Timestamp` and `X-Credo-Signature` "
                               "(HMAC-SHA256 of the timestamp and the body, or of the path with query for a "
                               "GET): see each operation."}
