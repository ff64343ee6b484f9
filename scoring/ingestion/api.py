"""Ingestion's REST API: partners' signed event requests, and members connecting partners."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from config.kernel import json_limits, metrics
from config.kernel.errors import ApiError
from config.kernel.openapi import errors
from config.kernel.serializers import StrictSerializer
from config.kernel.throttles import RefusalThrottle
from scoring.ingestion import consent
from scoring.ingestion import services as ingestion
from scoring.ingestion.errors import Code
from scoring.ingestion.models import Event, Partner
from scoring.ingestion.partners import SignatureCode, SignatureError, verify_signature

PARTNER_HEADERS = [
    OpenApiParameter("X-Credo-Key", str, OpenApiParameter.HEADER, required=True,
                     description="The key id issued to the partner (`ck_…`)."),
    OpenApiParameter("X-Credo-Timestamp", str, OpenApiParameter.HEADER, required=True,
                     description="Unix seconds when the request was signed: within "
                                 "`PARTNER_SIGNATURE_TOLERANCE_SECONDS` (300) of our clock."),
    OpenApiParameter("X-Credo-Signature", str, OpenApiParameter.HEADER, required=True,
                     description='`sha256=<hex HMAC-SHA256 of "<timestamp>." + the raw body>` '
                                 "with the key's secret."),
    OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
                     description="1-255 characters. The same key and body again replays the first answer "
                                 "(header `Idempotent-Replayed: true`); another body is 422.",
                     pattern=r"^\S(.{0,253}\S)?$"),
]


class EventBodySerializer(ingestion.EventSerializer):
    """One event (documentation of ``EventSerializer``, whose ``kind`` it spells out). Bills and card
    repayments take ``due_date`` and exactly one of ``paid_date`` or ``missed: true``; purchases take
    neither, nor ``amount_paid``, and an amount above zero. ``occurred_at`` is not in the future (5
    minutes of clock skew) nor before 2000; ``due_date`` is at most a year ahead, ``paid_date`` not in
    the future and at most a year before ``due_date``. ``member`` is the username of a member who
    connected the partner (else 400 ``unknown_member`` / 403 ``no_consent``); ``external_id`` is the
    partner's own id: an event sent again is stored once (``duplicate: true``)."""

    kind = serializers.ChoiceField(choices=Event.Kind.values)  # type: ignore[assignment]  # documentation

    class Meta:
        ref_name = "PartnerEvent"


class BatchBodySerializer(StrictSerializer):
    """Up to 500 events, all or nothing: one invalid event refuses the whole batch, naming its index
    (``events[3].amount``), and none is stored."""

    events = serializers.ListField(child=EventBodySerializer(), min_length=1, max_length=ingestion.MAX_BATCH)

    class Meta:
        ref_name = "PartnerEventBatch"


class EventAnswerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    member = serializers.CharField()
    kind = serializers.ChoiceField(choices=Event.Kind.values)
    status = serializers.CharField()
    duplicate = serializers.BooleanField()

    class Meta:
        ref_name = "PartnerEventAnswer"


class BatchAnswerSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    events = EventAnswerSerializer(many=True)

    class Meta:
        ref_name = "PartnerBatchAnswer"


#: A signed request's refusals, shared by the single and the batch endpoint.
SIGNED_ERRORS = errors(
    {400: [Code.IDEMPOTENCY_KEY_REQUIRED, Code.UNKNOWN_MEMBER, Code.UNKNOWN_KIND, Code.INVALID_AMOUNT,
           Code.IN_FUTURE, Code.OUT_OF_RANGE, Code.PAYMENT_OUTCOME, Code.NOT_FOR_KIND, Code.BATCH_TOO_LARGE],
     401: [SignatureCode.MISSING, SignatureCode.UNKNOWN_KEY, SignatureCode.REVOKED, SignatureCode.STALE,
           SignatureCode.BAD],
     403: [Code.NO_CONSENT], 409: [Code.REQUEST_IN_FLIGHT], 413: [], 422: [Code.IDEMPOTENCY_KEY_REUSED], 429: []},
    _401="The signature headers are missing, or the key or the signature is refused.",
    _409="A request with this Idempotency-Key is still being processed: retry shortly.",
    _422="This Idempotency-Key was used with another body.",
    _429="Too many refused signed requests from this address.",
)


def _count(outcome: ingestion.Outcome) -> None:
    """Events accepted, duplicates, or the refusal's code (config.kernel.metrics)."""
    body = outcome.body
    if outcome.status >= 400:
        metrics.EVENTS_REJECTED.labels(code=body.get("code", "")).inc()
    elif "accepted" in body:  # a batch
        metrics.EVENTS_ACCEPTED.inc(body["accepted"])
        metrics.EVENTS_DUPLICATE.inc(body["duplicates"])
    elif body.get("duplicate"):
        metrics.EVENTS_DUPLICATE.inc()
    else:
        metrics.EVENTS_ACCEPTED.inc()


class PartnerIngestView(APIView):
    """Signed partner requests. The raw body is verified before anything is parsed or written."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list = []
    parser_classes: list = []  # we read the raw bytes: the signature covers them exactly
    handler_name = "ingest_single"

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        metrics.EVENTS_REJECTED.labels(code=getattr(response, "data", {}).get("code", "")).inc()
        return response

    def post(self, request: Request) -> Response:
        # An address whose signed requests keep failing is refused before any work (429): it is
        # guessing keys or spending our CPU. A partner's valid requests are never counted.
        refusals = RefusalThrottle("partner_refused")
        wait = refusals.blocked(request)
        if wait is not None:
            raise exceptions.Throttled(wait)
        body = json_limits.request_body(request._request)
        try:
            partner = verify_signature(
                key_id=request.headers.get("X-Credo-Key", ""),
                timestamp=request.headers.get("X-Credo-Timestamp", ""),
                signature=request.headers.get("X-Credo-Signature", ""),
                body=body,
            )
        except SignatureError:
            refusals.record(request)
            raise
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 255:
            raise ApiError(400, Code.IDEMPOTENCY_KEY_REQUIRED, "Send an Idempotency-Key header (1-255 characters).")
        handler = getattr(ingestion, self.handler_name)
        outcome, replayed = ingestion.idempotent(
            partner=partner, key=key, body=body, handler=lambda: handler(partner=partner, body=body)
        )
        if not replayed:  # a replay was counted the first time
            _count(outcome)
        response = Response(outcome.body, status=outcome.status)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


@extend_schema(
    summary="A partner sends one event (signed)",
    description="Signed with the partner's key (see the headers). Stored once per `external_id`: 201 when "
                "new, 200 with `duplicate: true` when it was sent before. Scoring follows within seconds.",
    parameters=PARTNER_HEADERS, request={"application/json": EventBodySerializer},
    responses={201: EventAnswerSerializer, 200: EventAnswerSerializer, **SIGNED_ERRORS},
)
class EventIngestView(PartnerIngestView):
    handler_name = "ingest_single"


@extend_schema(
    summary="A partner sends up to 500 events (signed), all or nothing",
    description="Signed like a single event. All or nothing: one invalid event refuses the whole batch "
                "(400, its field named with the event's index, e.g. `events[3].amount`) and none is stored; "
                "a member who did not connect the partner refuses it too (403, `members` lists them). "
                "Events sent before count as `duplicates`.",
    parameters=PARTNER_HEADERS, request={"application/json": BatchBodySerializer},
    responses={201: BatchAnswerSerializer, **SIGNED_ERRORS},
)
class EventBatchView(PartnerIngestView):
    handler_name = "ingest_batch"


class ConsentSerializer(StrictSerializer):
    partner = serializers.SlugField(max_length=60)


def partner_representation(partner: Partner, connected_at: Any = None) -> dict[str, Any]:
    return {"partner": partner.slug, "name": partner.name, "connected_at": connected_at}


class PartnerSerializer(serializers.Serializer):
    partner = serializers.SlugField()
    name = serializers.CharField()
    connected_at = serializers.DateTimeField(allow_null=True)


class MyPartnersSerializer(serializers.Serializer):
    connected = PartnerSerializer(many=True)
    available = PartnerSerializer(many=True)


class MyPartnersView(APIView):
    @extend_schema(responses={200: MyPartnersSerializer})
    def get(self, request: Request) -> Response:
        me = member_of(request)
        return Response({
            "connected": [partner_representation(c.partner, c.created_at) for c in consent.consents_live(member=me)],
            "available": [partner_representation(p) for p in consent.partners_available(member=me)],
        })

    @extend_schema(request=ConsentSerializer, responses={
        201: PartnerSerializer, **errors({404: [Code.UNKNOWN_PARTNER], 409: [Code.ALREADY_CONNECTED]},
                                         _409="This partner is already connected.")})
    def post(self, request: Request) -> Response:
        serializer = ConsentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = Partner.objects.filter(slug=serializer.validated_data["partner"], is_active=True).first()
        if partner is None:
            raise ApiError(404, Code.UNKNOWN_PARTNER, "No such partner.")
        granted = consent.consent_grant(member=member_of(request), partner=partner)
        return Response(partner_representation(partner, granted.created_at), status=status.HTTP_201_CREATED)


class MyPartnerView(APIView):
    @extend_schema(responses={204: None, **errors({404: [Code.UNKNOWN_PARTNER]})})
    def delete(self, request: Request, slug: str) -> Response:
        partner = get_object_or_404(Partner, slug=slug)
        if not consent.consent_revoke(member=member_of(request), partner=partner):
            raise ApiError(404, Code.UNKNOWN_PARTNER, "That partner is not connected.")
        return Response(status=status.HTTP_204_NO_CONTENT)

