"""A partner configures its webhooks (DESIGN.md §8 "Partner status and webhooks"), signed requests.

``PUT partner/webhook/`` ``{url, events}`` → ``{url, events, secret}`` (the ``whsec_`` secret only
when the endpoint is first configured or its secret rotated: it is never shown again) ·
``POST partner/webhook/rotate/`` → a new secret (the previous one signs beside it for a day) ·
``GET partner/webhooks/deliveries/?cursor=&limit=`` → the partner's own delivery attempts, newest
first. The service layer is ``scoring.webhooks.services``; these views live here because they
authenticate with the partner signature of ``scoring.partners.auth``, above the webhooks.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.kernel import json_limits
from config.kernel.errors import ApiError
from config.kernel.openapi import errors
from config.kernel.serializers import StrictSerializer
from scoring.partners.api import PartnerSignedView
from scoring.partners.auth import PARTNER_SIGNED, SIGNED_401, partner_of
from scoring.webhooks import selectors, services
from scoring.webhooks.guard import UnsafeUrlCode
from scoring.webhooks.models import WebhookAttempt, WebhookType
from scoring.webhooks.payloads import iso

URL_CODES = [UnsafeUrlCode.SCHEME, UnsafeUrlCode.ADDRESS, UnsafeUrlCode.UNRESOLVED, UnsafeUrlCode.INVALID]
_TYPES = ", ".join(f"`{t}`" for t in WebhookType.values)


class EndpointBodySerializer(StrictSerializer):
    """Where to send the partner's webhooks and which types (unknown fields are refused)."""

    # Checked by the webhooks' guard (its codes), not Django's URL validator: that one refuses
    # hosts JSON Schema's "uri" allows, and says nothing of the address, which is what matters.
    url = serializers.RegexField(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$", max_length=2000,
                                 help_text="https, on a public address (checked now and at every delivery)")
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookType.choices), min_length=1,
                                   max_length=len(WebhookType.values), help_text=f"the types to receive: {_TYPES}")

    class Meta:
        ref_name = "PartnerWebhookBody"


class EndpointSerializer(serializers.Serializer):
    """The partner's webhook endpoint as configured."""

    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookType.choices))
    secret = serializers.CharField(allow_null=True, help_text="`whsec_…`: only when it was just created (first "
                                   "configuration, rotation); null otherwise. Keep it: it is never shown again.")

    class Meta:
        ref_name = "PartnerWebhook"


class DeliverySerializer(serializers.Serializer):
    """One attempt to deliver one of the partner's webhooks."""

    webhook_id = serializers.CharField(help_text="the message's `webhook-id` (the same on every attempt)")
    type = serializers.ChoiceField(choices=WebhookType.choices)
    url = serializers.CharField(help_text="where it was sent")
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="your endpoint's answer; null when there "
                                           "was none (refused address, timeout, connection error)")
    ok = serializers.BooleanField(help_text="a 2xx: delivered")
    latency_ms = serializers.IntegerField()
    error = serializers.CharField(help_text="why it failed, empty when it did not")
    message_status = serializers.ChoiceField(choices=["pending", "delivered", "failed"],
                                             help_text="the message now: `failed` once given up")

    class Meta:
        ref_name = "PartnerWebhookDelivery"


class DeliveriesPageSerializer(serializers.Serializer):
    results = DeliverySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="the `cursor` of the next page; null on the last")

    class Meta:
        ref_name = "PartnerWebhookDeliveries"


class DeliveriesQuerySerializer(serializers.Serializer):
    cursor = serializers.RegexField(r"^[0-9]{1,18}$", required=False, default="", allow_blank=True,
                                    help_text="`next` of the previous page",
                                    error_messages={"invalid": "This cursor is not valid: start again without one."})
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


def _answer(configured: services.EndpointSet) -> Response:
    return Response({"url": configured.url, "events": configured.events, "secret": configured.secret})


@extend_schema(
    summary="A partner configures its webhook endpoint (signed)",
    description=f"Signed with the partner's key (the raw body). Sets the URL and the types to receive ({_TYPES}); "
                "configuring also enables an endpoint that was disabled after failed deliveries (what waited is "
                "then sent, in order). The answer carries the signing secret (`whsec_…`) only the first time; "
                "later answers say `secret: null`. Loopback and private addresses, and http, are refused outside "
                "development. Payloads and headers: the `x-webhooks` of this document.",
    parameters=PARTNER_SIGNED, request=EndpointBodySerializer,
    responses={200: EndpointSerializer, **SIGNED_401,
               **errors({400: [*URL_CODES, "invalid_choice", "min_length", "max_length", "required"]})},
)
class PartnerWebhookView(PartnerSignedView):
    def put(self, request: Request) -> Response:
        body = EndpointBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        partner = partner_of(request)
        return _answer(services.webhook_endpoint_set(
            partner=partner, url=body.validated_data["url"], types=body.validated_data["events"],
            actor_name=f"partner:{partner.slug}"))


#: A rotation carries no body (see the view).
BODY_NOT_EMPTY = "body_not_empty"


@extend_schema(
    summary="A partner rotates its webhook secret (signed)",
    description="Signed with the partner's key over an empty body (`\"<timestamp>.\"`); any other body is "
                "refused (400 `body_not_empty`), so no other signed request can be replayed as a rotation. "
                "Returns a new secret, shown once. The previous one keeps signing beside it for 24 hours "
                "(messages carry both signatures), so the receiver can switch without losing a message; an older "
                "one stops at once.",
    parameters=PARTNER_SIGNED, request=None,
    responses={200: EndpointSerializer, **SIGNED_401,
               **errors({400: [BODY_NOT_EMPTY], 404: [services.WebhookCode.NO_ENDPOINT]},
                        _404="No webhook endpoint is configured.")},
)
class PartnerWebhookRotateView(PartnerSignedView):
    def post(self, request: Request) -> Response:
        # The signature covers the body, not the method or path: a GET's signature (over its path)
        # sent here with that path as the body would verify. An empty body cannot be any GET's.
        if json_limits.request_body(request._request).strip() not in (b"", b"{}"):
            raise ApiError(400, BODY_NOT_EMPTY, "Send the rotation with an empty body.")
        partner = partner_of(request)
        return _answer(services.webhook_secret_rotate(partner=partner, actor_name=f"partner:{partner.slug}"))


def _delivery(attempt: WebhookAttempt) -> dict:
    return {"webhook_id": attempt.message.msg_id, "type": attempt.message.type, "url": attempt.url,
            "attempted_at": iso(attempt.attempted_at), "status_code": attempt.status_code, "ok": attempt.ok,
            "latency_ms": attempt.latency_ms, "error": attempt.error, "message_status": attempt.message.status}


@extend_schema(
    summary="A partner reads its webhook deliveries (signed)",
    description="Signed with the partner's key: a GET signs `\"<timestamp>.\" + path with query` exactly as sent. "
                "Every attempt to deliver the partner's webhooks, newest first, `limit` per page; `next` is the "
                "`cursor` of the next page. Only the partner's own.",
    parameters=[*PARTNER_SIGNED, DeliveriesQuerySerializer],
    responses={200: DeliveriesPageSerializer, **SIGNED_401,
               **errors({400: ["invalid", "min_value", "max_value"]})},
)
class PartnerWebhookDeliveriesView(PartnerSignedView):
    def get(self, request: Request) -> Response:
        query = DeliveriesQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        limit, cursor = query.validated_data["limit"], query.validated_data["cursor"]
        attempts: QuerySet[WebhookAttempt] = selectors.deliveries_of(partner=partner_of(request))
        if cursor:
            attempts = attempts.filter(pk__lt=int(cursor))
        page = list(attempts[: limit + 1])
        if len(page) > limit:
            page = page[:limit]
            following: str | None = str(page[-1].pk)
        else:
            following = None
        return Response({"results": [_delivery(a) for a in page], "next": following})
