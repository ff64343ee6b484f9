"""The partner's side of the REST API beyond ingestion (DESIGN.md §8 "Partner status and webhooks").

``GET partner/events/{external_id}/`` · ``GET partner/events/?status=&since=&cursor=&limit=`` →
the partner's own events as ``event_partner_view`` shows them; ``POST
partner/events/{external_id}/dispute-response/`` answers a member's dispute. Every request is
signed with the partner's key (``scoring.partners.auth``); another partner's event is 404, the
same answer as an unknown one.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.kernel.errors import ApiError
from config.kernel.openapi import errors
from config.kernel.serializers import StrictSerializer
from scoring.ingestion.models import Event
from scoring.moderation import disputes
from scoring.moderation.disputes import DisputeCode
from scoring.moderation.models import REASON_MAX_LENGTH, Dispute
from scoring.moderation.services import InvalidCorrection, ModerationCode
from scoring.partners import selectors
from scoring.partners.auth import PARTNER_SIGNED, SIGNED_401, IsPartner, PartnerSignatureAuthentication, partner_of
from scoring.partners.selectors import PartnerStatus


class PartnerCode:
    INVALID_CURSOR = "invalid_cursor"  # 400
    NOT_FOR_VERDICT = "not_for_verdict"  # 400: corrected fields with another verdict than "corrected"


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
    dispute = DisputeViewSerializer(allow_null=True, help_text="the event's open dispute, else its latest, if any")

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


class PartnerEventView(PartnerSignedView):
    @extend_schema(
        summary="A partner reads the status of one of its events (signed)",
        description=f"Signed with the partner's key: a GET signs `\"<timestamp>.\" + path with query`. Status: "
                    f"{_STATUSES}. Never a score: only what the partner sent and what became of it. Another "
                    "partner's event is 404, like an unknown one.",
        parameters=PARTNER_SIGNED, operation_id="v1_partner_events_retrieve",
        responses={200: EventStatusSerializer, **SIGNED_401, **errors({404: []})},
    )
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


class PartnerEventsView(PartnerSignedView):
    @extend_schema(
        summary="A partner lists its events with their status (signed)",
        description=f"Signed with the partner's key: a GET signs `\"<timestamp>.\" + path with query` exactly as "
                    f"sent (e.g. `/api/v1/partner/events/?status=disputed`). Oldest first (by `received_at`, then "
                    f"id), `limit` per page; `next` is the `cursor` of the next page (sign the new path). Status: "
                    f"{_STATUSES}.",
        parameters=[*PARTNER_SIGNED, EventsQuerySerializer,
                    OpenApiParameter("since", OpenApiTypes.DATETIME, description="only events received at or after "
                                     "this time: ISO 8601 with a time zone, e.g. `2026-12-01T00:00:00Z`")],
        operation_id="v1_partner_events_list",
        responses={200: EventStatusPageSerializer, **SIGNED_401,
                   **errors({400: [PartnerCode.INVALID_CURSOR, "invalid_choice", "naive", "min_value", "max_value"]})},
    )
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


class CorrectedSerializer(StrictSerializer):
    """The event's corrected facts: only the fields that change (``missed: true`` with
    ``paid_date: null`` for a payment now missed, and the other way round)."""

    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False)
    amount_paid = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"),
                                           required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    paid_date = serializers.DateField(required=False, allow_null=True)
    missed = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "PartnerEventCorrection"


class DisputeResponseSerializer(StrictSerializer):
    verdict = serializers.ChoiceField(choices=Dispute.Verdict.values)
    corrected = CorrectedSerializer(required=False, help_text="with `verdict: corrected` only, and then required")
    note = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text="the partner's findings: the member and "
                                 "the moderators read it")

    class Meta:
        ref_name = "PartnerDisputeResponse"

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        correcting = data["verdict"] == Dispute.Verdict.CORRECTED
        if correcting and not data.get("corrected"):
            raise serializers.ValidationError(
                {"corrected": [ErrorDetail("Give the corrected fields.", code="required")]})
        if not correcting and "corrected" in data:
            raise serializers.ValidationError({"corrected": [ErrorDetail(
                "Only a `corrected` verdict takes corrected fields.", code=PartnerCode.NOT_FOR_VERDICT)]})
        return data


class DisputeResponseView(PartnerSignedView):
    @extend_schema(
        summary="A partner answers a member's dispute of its event (signed)",
        description="Signed with the partner's key (the raw body, as for ingestion). The dispute was announced by the "
                    "`event.disputed` webhook and must be answered by its `respond_by` (else it resolves in the "
                    "member's favour and the event is reversed). `withdrawn`: the event is reversed at once (the "
                    "member is rescored, friends' contagion follows; `event.reversed` and `dispute.resolved` follow). "
                    "`corrected`: the event's facts are replaced by `corrected` (only the fields that change; a "
                    "payment takes exactly one of `paid_date` or `missed: true`, a purchase an amount only), the "
                    "member is rescored and sees the correction, and the dispute ends `corrected` (`event.corrected`, "
                    "`dispute.resolved`). `confirmed`: the partner stands by the event; a moderator decides, with "
                    "the partner's `note` beside the member's reason (`dispute.resolved` follows the decision). The "
                    "answer is given once: another is 409 `already_answered` (read the event's status to check an "
                    "answer whose response was lost). Answers with the event's status as `GET` shows it.",
        parameters=PARTNER_SIGNED, request=DisputeResponseSerializer,
        responses={200: EventStatusSerializer, **SIGNED_401, **errors({
            400: ["invalid_choice", "max_length", "min_value", "max_digits", "max_decimal_places", "max_whole_digits",
                  PartnerCode.NOT_FOR_VERDICT, ModerationCode.INVALID_CORRECTION], 404: [],
            409: [DisputeCode.NO_OPEN_DISPUTE, DisputeCode.ALREADY_ANSWERED]},
            _409="No open dispute to answer (`no_open_dispute`), or it was answered already (`already_answered`).")},
    )
    def post(self, request: Request, external_id: str) -> Response:
        serializer = DisputeResponseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        partner = partner_of(request)
        try:
            dispute = disputes.dispute_partner_answer(partner=partner, external_id=external_id,
                                                      verdict=data["verdict"], note=data["note"],
                                                      corrected=data.get("corrected"))
        except InvalidCorrection as exc:  # the rules between an event's fields, named like a field's
            raise serializers.ValidationError(
                {"corrected": {exc.field: [ErrorDetail(exc.detail, code=exc.code)]}}) from exc
        event = selectors.partner_event(partner=partner, external_id=external_id)
        return Response(selectors.event_partner_view(event, dispute=dispute))
