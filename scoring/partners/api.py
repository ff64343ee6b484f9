"""The partner's side of the REST API beyond ingestion (DESIGN.md §8 "Partner status and webhooks").

``GET partner/events/{external_id}/`` · ``GET partner/events/?status=&since=&cursor=&limit=`` →
the partner's own events as ``event_partner_view`` shows them; ``POST
partner/events/{external_id}/dispute-response/`` answers a member's dispute. Every request is
signed with the partner's key (``scoring.partners.auth``); another partner's event is 404, the
same answer as an unknown one.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.kernel.errors import ApiError
from config.kernel.openapi import errors
from scoring.ingestion.models import Event
from scoring.partners import selectors
from scoring.partners.auth import PARTNER_SIGNED, SIGNATURE_CODES, IsPartner, PartnerSignatureAuthentication, partner_of
from scoring.partners.selectors import PartnerStatus


class PartnerCode:
    INVALID_CURSOR = "invalid_cursor"  # 400


class PartnerSignedView(APIView):
    """A view for partner-signed requests only (a member's token or session is not a partner)."""

    authentication_classes = [PartnerSignatureAuthentication]
    permission_classes = [IsPartner]


class DisputeViewSerializer(serializers.Serializer):
    opened_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=["open", "accepted", "rejected", "corrected"],
                                     help_text="`open` while the partner or a moderator has still to answer")
    respond_by = serializers.DateTimeField(allow_null=True, help_text="when the partner must have answered; "
                                           "unanswered, the dispute resolves in the member's favour")
    verdict = serializers.ChoiceField(choices=["confirmed", "corrected", "withdrawn"], allow_null=True,
                                      help_text="the partner's answer, once given")
    answered_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "PartnerEventDispute"


class EventStatusSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    member = serializers.CharField(help_text="the member's username, as sent")
    kind = serializers.ChoiceField(choices=Event.Kind.values)
    status = serializers.ChoiceField(choices=PartnerStatus.ALL)
    received_at = serializers.DateTimeField()
    scored_at = serializers.DateTimeField(allow_null=True)
    dispute = DisputeViewSerializer(allow_null=True, help_text="the event's latest dispute, if any")

    class Meta:
        ref_name = "PartnerEventStatus"


class EventStatusPageSerializer(serializers.Serializer):
    results = EventStatusSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="the `cursor` of the next page; null on the last")

    class Meta:
        ref_name = "PartnerEventStatusPage"


_STATUSES = ("`pending` (accepted, not scored yet), `scored`, `failed` (could not be scored), `disputed` (a "
             "member disputed it: answer with `dispute-response/`), `reversed` (it no longer counts), `corrected` "
             "(its facts were corrected)")
_SIGNED_401 = errors({401: SIGNATURE_CODES},
                     _401="The signature headers are missing, or the key or the signature is refused.")


@extend_schema(
    summary="A partner reads the status of one of its events (signed)",
    description=f"Signed with the partner's key: a GET signs `\"<timestamp>.\" + path with query`. Status: "
                f"{_STATUSES}. Never a score: only what the partner sent and what became of it. Another "
                "partner's event is 404, like an unknown one.",
    parameters=PARTNER_SIGNED,
    responses={200: EventStatusSerializer, **_SIGNED_401, **errors({404: []})},
)
class PartnerEventView(PartnerSignedView):
    def get(self, request: Request, external_id: str) -> Response:
        event = selectors.partner_event(partner=partner_of(request), external_id=external_id)
        return Response(selectors.event_partner_view(event))


class AwareDateTimeField(serializers.DateTimeField):
    """A moment with its time zone: DRF would read "2026-12-01T00:00" in the server's zone, and a
    partner's clock is not ours (400 ``naive``)."""

    default_error_messages = {**serializers.DateTimeField.default_error_messages,
                              "naive": "Give a time zone (e.g. Z or +00:00)."}

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class EventsQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PartnerStatus.ALL, required=False, help_text="only events in it")
    since = AwareDateTimeField(required=False, help_text="only events received at or after it (ISO 8601)")
    cursor = serializers.CharField(max_length=200, required=False, default="", allow_blank=True,
                                   help_text="`next` of the previous page")
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


@extend_schema(
    summary="A partner lists its events with their status (signed)",
    description=f"Signed with the partner's key: a GET signs `\"<timestamp>.\" + path with query` exactly as "
                f"sent (e.g. `/api/v1/partner/events/?status=disputed`). Oldest first (by `received_at`, then "
                f"id), `limit` per page; `next` is the `cursor` of the next page (sign the new path). Status: "
                f"{_STATUSES}.",
    parameters=[*PARTNER_SIGNED, EventsQuerySerializer,
                OpenApiParameter("since", OpenApiTypes.DATETIME, description="only events received at or after "
                                 "this time: ISO 8601 with a time zone, e.g. `2026-12-01T00:00:00Z`")],
    responses={200: EventStatusPageSerializer, **_SIGNED_401,
               **errors({400: [PartnerCode.INVALID_CURSOR, "invalid_choice", "naive", "min_value", "max_value"]})},
)
class PartnerEventsView(PartnerSignedView):
    def get(self, request: Request) -> Response:
        # A plain dict: DRF reads an empty "status=" in a QueryDict as "not given"; here it is refused.
        query = EventsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            page = selectors.partner_events_page(
                partner=partner_of(request), status=data.get("status", ""), since=data.get("since"),
                cursor=data["cursor"], limit=data["limit"])
        except selectors.InvalidCursor as exc:
            raise ApiError(400, PartnerCode.INVALID_CURSOR, "This cursor is not valid: start again without one.") \
                from exc
        return Response({"results": selectors.events_partner_views(page.items), "next": page.next_cursor})
