"""The webhooks in the OpenAPI document: what a partner's endpoint receives, per type.

drf-spectacular builds them from ``WEBHOOKS`` (``OpenApiWebhook``, settings ``SPECTACULAR_SETTINGS``)
with the serializers below, which exist for the document only (``payloads`` builds the data).
Our document is OpenAPI 3.0, where a top-level ``webhooks`` is not allowed: ``webhooks_as_extension``
(a postprocessing hook) files them under ``x-webhooks``, the 3.0 extension ReDoc and Swagger
tooling read.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from scoring.ingestion.models import Event
from scoring.webhooks.models import WebhookType

HEADERS = ("Headers (the Standard Webhooks spec): `webhook-id` (`msg_…`, the same on every retry of one message: "
           "deduplicate on it), `webhook-timestamp` (unix seconds of this attempt: refuse one more than 5 minutes "
           "away from your clock), `webhook-signature` (`v1,<base64 HMAC-SHA256 of \"<webhook-id>.<webhook-"
           "timestamp>.<raw body>\">` with the secret's bytes (the base64 after `whsec_`); during a rotation "
           "two, space-separated: accept the message if one matches). Verify with the `standardwebhooks` "
           "library before parsing. Answer 2xx within 10 s; anything else, a redirect or no answer is retried "
           "(immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) and the next message waits: messages arrive "
           "in order, at least once.")


class WebhookDisputeSerializer(serializers.Serializer):
    opened_at = serializers.DateTimeField()
    status = serializers.CharField()
    respond_by = serializers.DateTimeField(allow_null=True)


class WebhookEventDataSerializer(serializers.Serializer):
    external_id = serializers.CharField(help_text="as the partner sent it")
    member = serializers.CharField(help_text="the member's username, as the partner sent it")
    kind = serializers.ChoiceField(choices=Event.Kind.values)
    status = serializers.ChoiceField(choices=["pending", "scored", "failed", "disputed", "reversed", "corrected"])
    received_at = serializers.DateTimeField()
    scored_at = serializers.DateTimeField(allow_null=True)
    dispute = WebhookDisputeSerializer(allow_null=True)


class WebhookConsentDataSerializer(serializers.Serializer):
    member = serializers.CharField(help_text="the member's username")
    revoked_at = serializers.DateTimeField()


def _body(name: str, kind: str, data: serializers.Serializer) -> type[serializers.Serializer]:
    fields: dict[str, Any] = {
        # A pattern, not a one-value enum: seven of those would all claim the name "TypeEnum".
        "type": serializers.RegexField(f"^{re.escape(kind)}$", help_text=f"`{kind}`"),
        "timestamp": serializers.DateTimeField(help_text="when the message was recorded"),
        "data": data,
        "Meta": type("Meta", (), {"ref_name": name}),
    }
    return type(name + "Serializer", (serializers.Serializer,), fields)


_WHAT = {
    WebhookType.EVENT_SCORED: "One of the partner's events was scored.",
    WebhookType.EVENT_FAILED: "One of the partner's events could not be scored (after retries).",
    WebhookType.EVENT_DISPUTED: "A member disputed one of the partner's events: answer with "
                                "`POST /api/v1/partner/events/{external_id}/dispute-response/` before `respond_by`.",
    WebhookType.DISPUTE_RESOLVED: "A dispute about one of the partner's events was resolved.",
    WebhookType.EVENT_REVERSED: "One of the partner's events was reversed: it no longer counts.",
    WebhookType.EVENT_CORRECTED: "One of the partner's events was corrected.",
    WebhookType.CONSENT_REVOKED: "A member disconnected the partner: send no more of their events.",
}


def _webhook(kind: WebhookType) -> OpenApiWebhook:
    name = "Webhook" + "".join(part.capitalize() for part in kind.value.replace(".", "_").split("_"))
    data = WebhookConsentDataSerializer() if kind == WebhookType.CONSENT_REVOKED else WebhookEventDataSerializer()
    return OpenApiWebhook(name=kind.value, decorator=extend_schema(
        summary=_WHAT[kind], description=f"{_WHAT[kind]}\n\n{HEADERS}", request=_body(name, kind.value, data),
        responses={200: OpenApiResponse(description="Received (any 2xx).")}))


EVENT_SCORED = _webhook(WebhookType.EVENT_SCORED)
EVENT_FAILED = _webhook(WebhookType.EVENT_FAILED)
EVENT_DISPUTED = _webhook(WebhookType.EVENT_DISPUTED)
DISPUTE_RESOLVED = _webhook(WebhookType.DISPUTE_RESOLVED)
EVENT_REVERSED = _webhook(WebhookType.EVENT_REVERSED)
EVENT_CORRECTED = _webhook(WebhookType.EVENT_CORRECTED)
CONSENT_REVOKED = _webhook(WebhookType.CONSENT_REVOKED)


def webhooks_as_extension(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: an OpenAPI 3.0 document carries its webhooks as
    ``x-webhooks`` (3.1 has ``webhooks``)."""
    if "webhooks" in result and str(result.get("openapi", "")).startswith("3.0"):
        result["x-webhooks"] = result.pop("webhooks")
    return result
