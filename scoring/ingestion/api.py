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
from config.kernel import json_limits
from config.kernel.errors import ApiError
from config.kernel.serializers import StrictSerializer
from config.kernel.throttles import RefusalThrottle
from scoring.ingestion import consent
from scoring.ingestion import services as ingestion
from scoring.ingestion.errors import Code
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import SignatureError, verify_signature

PARTNER_HEADERS = [
    OpenApiParameter("X-Credo-Key", str, OpenApiParameter.HEADER, required=True),
    OpenApiParameter("X-Credo-Timestamp", str, OpenApiParameter.HEADER, required=True),
    OpenApiParameter("X-Credo-Signature", str, OpenApiParameter.HEADER, required=True,
                     description='sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>'),
    OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True),
]


class PartnerIngestView(APIView):
    """Signed partner requests. The raw body is verified before anything is parsed or written."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list = []
    parser_classes: list = []  # we read the raw bytes: the signature covers them exactly
    handler_name = "ingest_single"

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
        response = Response(outcome.body, status=outcome.status)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


@extend_schema(parameters=PARTNER_HEADERS, request=ingestion.EventSerializer, responses={201: None})
class EventIngestView(PartnerIngestView):
    handler_name = "ingest_single"


@extend_schema(parameters=PARTNER_HEADERS, request=ingestion.BatchSerializer, responses={201: None})
class EventBatchView(PartnerIngestView):
    handler_name = "ingest_batch"


class ConsentSerializer(StrictSerializer):
    partner = serializers.SlugField(max_length=60)


def partner_representation(partner: Partner, connected_at: Any = None) -> dict[str, Any]:
    return {"partner": partner.slug, "name": partner.name, "connected_at": connected_at}


class MyPartnersView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        me = member_of(request)
        return Response({
            "connected": [partner_representation(c.partner, c.created_at) for c in consent.consents_live(member=me)],
            "available": [partner_representation(p) for p in consent.partners_available(member=me)],
        })

    @extend_schema(request=ConsentSerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        serializer = ConsentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = Partner.objects.filter(slug=serializer.validated_data["partner"], is_active=True).first()
        if partner is None:
            raise ApiError(404, Code.UNKNOWN_PARTNER, "No such partner.")
        granted = consent.consent_grant(member=member_of(request), partner=partner)
        return Response(partner_representation(partner, granted.created_at), status=status.HTTP_201_CREATED)


class MyPartnerView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        partner = get_object_or_404(Partner, slug=slug)
        if not consent.consent_revoke(member=member_of(request), partner=partner):
            raise ApiError(404, Code.UNKNOWN_PARTNER, "That partner is not connected.")
        return Response(status=status.HTTP_204_NO_CONTENT)

