"""The member's score on the REST API: the score and why, its history, the ledger, what-if, and
their events."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from scoring.explain import overview
from scoring.explain.whatif import WhatIfSerializer, what_if
from scoring.ingestion.models import Event
from scoring.ledger import selectors


class ScoreView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        return Response(overview.score_overview(member=member_of(request)))


class ScoreHistoryView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        history = selectors.score_history(member=member_of(request))
        return Response({"history": [{"at": at, "score": score} for at, score in history]})


class LedgerPagination(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")


class ScoreChangesView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        paginator = LedgerPagination()
        page = paginator.paginate_queryset(selectors.ledger(member=member_of(request)), request, view=self)
        return paginator.get_paginated_response([overview.change_representation(c) for c in page or []])


class WhatIfView(APIView):
    @extend_schema(request=WhatIfSerializer, responses={200: None})
    def post(self, request: Request) -> Response:
        serializer = WhatIfSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(what_if(member=member_of(request), scenario=serializer.validated_data))


class EventPagination(CursorPagination):
    page_size = 50
    ordering = ("-occurred_at", "-id")


def event_for_member(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk, "partner": event.partner.slug, "partner_name": event.partner.name,
        "kind": event.kind, "amount": str(event.amount), "currency": event.currency,
        "occurred_at": event.occurred_at, "due_date": event.due_date, "paid_date": event.paid_date,
        "missed": event.missed, "amount_paid": None if event.amount_paid is None else str(event.amount_paid),
        "status": event.status, "external_id": event.external_id,
    }


class MyEventsView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        paginator = EventPagination()
        page = paginator.paginate_queryset(selectors.member_events(member=member_of(request)), request, view=self)
        return paginator.get_paginated_response([event_for_member(e) for e in page or []])

