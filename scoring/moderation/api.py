"""Members' side of moderation in the REST API (DESIGN.md §8, §10).

``POST me/events/{id}/dispute/`` · ``GET me/disputes/`` · ``GET me/notices/`` ·
``POST me/notices/read/`` (the moderation kinds of the notification feed,
``accounts.notifications.feed``) · ``GET/POST flags/``. A service that refuses raises a
``DomainError``, which the API's exception handler answers as ``{"code", "detail"}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from accounts.notifications import feed as notifications
from config.kernel.openapi import errors
from config.kernel.serializers import StrictSerializer
from scoring.explain import api as explain_api
from scoring.ledger.selectors import member_events
from scoring.moderation import disputes, furnisher
from scoring.moderation import services as moderation
from scoring.moderation.models import REASON_MAX_LENGTH, Dispute, Flag
from scoring.moderation.services import ModerationCode


def dispute_representation(d: Dispute) -> dict[str, Any]:
    """A dispute as its member reads it: where it stands, the partner's deadline and answer, and
    every step (``timeline``, oldest first; prefetch ``steps`` for a list)."""
    return {"id": d.pk, "event": d.event_id, "reason": d.reason, "status": d.status, "created_at": d.created_at,
            "resolved_at": d.resolved_at, "resolution": d.resolution if d.status != Dispute.Status.OPEN else "",
            "respond_by": d.respond_by, "partner_verdict": d.partner_verdict or None,
            "partner_note": d.partner_note, "partner_answered_at": d.partner_answered_at,
            "timeline": [{"at": s.created_at, "kind": s.kind, "by": s.by, "text": s.text} for s in d.steps.all()]}


def flag_representation(f: Flag) -> dict[str, Any]:
    return {"id": f.pk, "username": f.target.username, "reason": f.reason, "status": f.status,
            "created_at": f.created_at}


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


class DisputeView(APIView):
    @extend_schema(request=ReasonSerializer, responses={201: None, **errors({
        400: [ModerationCode.REASON_REQUIRED], 404: [],
        409: [ModerationCode.DISPUTE_ALREADY_OPEN, ModerationCode.NOT_DISPUTABLE],
        429: [ModerationCode.TOO_MANY_OPEN_DISPUTES]})})
    def post(self, request: Request, event_id: int) -> Response:
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispute = moderation.dispute_open(member=member_of(request), event_id=event_id,
                                          reason=serializer.validated_data["reason"])
        return Response(dispute_representation(dispute), status=status.HTTP_201_CREATED)


class MyDisputesView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        me = member_of(request)
        disputes.disputes_resolve_unanswered(member_id=me.pk)  # due ones first (no beat in embedded mode)
        rows = Dispute.objects.filter(member=me).prefetch_related("steps").order_by("-created_at", "-id")[:200]
        return Response({"results": [dispute_representation(d) for d in rows]})


class MyEventsView(APIView):
    """``GET me/events/``: the member's events (``scoring.explain.api.event_for_member``), each with
    ``dispute``: its dispute shown (the open one, else the latest; with its timeline) or null."""

    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        me = member_of(request)
        disputes.disputes_resolve_unanswered(member_id=me.pk)
        paginator = explain_api.EventPagination()
        events = paginator.paginate_queryset(member_events(member=me), request, view=self) or []
        shown = furnisher.disputes_shown([e.pk for e in events], steps=True)  # the member's events only
        return paginator.get_paginated_response([
            {**explain_api.event_for_member(e),
             "dispute": dispute_representation(shown[e.pk]) if e.pk in shown else None} for e in events])


class MyNoticesView(APIView):
    """The first clients' view of the feed (kept, DESIGN.md §8): the latest 100 moderation
    notifications, as before, in the feed's representation (a superset of the old fields).
    The whole feed is ``GET me/notifications/``."""

    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        page = notifications.feed_page(member_id=member_of(request).pk, limit=100, kinds=moderation.NOTICE_KINDS)
        return Response({"results": [notifications.representation(n) for n in page.items]})


class MyNoticesReadView(APIView):
    """Marks what ``GET me/notices/`` shows read (``POST me/notifications/read/`` reads all)."""

    @extend_schema(request=None, responses={200: None})
    def post(self, request: Request) -> Response:
        return Response({"read": notifications.notifications_mark_read(member_id=member_of(request).pk,
                                                                       kinds=moderation.NOTICE_KINDS)})


class FlagSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


class FlagsView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        rows = Flag.objects.filter(reporter=member_of(request)).select_related("target").order_by("-created_at")[:200]
        return Response({"results": [flag_representation(f) for f in rows]})

    @extend_schema(request=FlagSerializer, responses={201: None, **errors({
        400: [ModerationCode.REASON_REQUIRED, ModerationCode.CANNOT_FLAG_SELF], 404: [],
        409: [ModerationCode.ALREADY_FLAGGED], 429: [ModerationCode.RATE_LIMITED]},
        _404="No such member (or one who blocked you: the same answer).")})
    def post(self, request: Request) -> Response:
        serializer = FlagSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flag = moderation.flag_create(reporter=member_of(request), **serializer.validated_data)
        return Response(flag_representation(flag), status=status.HTTP_201_CREATED)

