"""The member's score on the REST API: the score and why, its history, the ledger, what-if, and
their events; and how the score works (the model card)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from config.kernel.openapi import errors
from scoring.explain import overview
from scoring.explain.model_card import model_card
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
    @extend_schema(
        description="The score a hypothetical event would give. Purchases are never late (`days_late` is for "
                    "bills and cards: 400 `not_for_kind`); `days_late` above 0 and `missed` do not go together "
                    "(400 `payment_outcome`).",
        request=WhatIfSerializer,
        responses={200: None, **errors({400: ["not_for_kind", "payment_outcome"]})})
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



# --- how the score works: the response's shape, for the OpenAPI schema only ---------------
# Fields called "label" or "data" would shadow attributes of DRF's Field and Serializer, so
# those serializers add them in ``get_fields``.


class _ModelCardLabelled(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {"label": serializers.CharField(), **super().get_fields()}


class ModelCardFactorSerializer(_ModelCardLabelled):
    name = serializers.CharField()
    weight = serializers.FloatField()
    max_points = serializers.FloatField()
    moves = serializers.ListField(child=serializers.CharField(), help_text="what moves the factor, in sentences")


class ModelCardBandSerializer(_ModelCardLabelled):
    low = serializers.IntegerField()
    high = serializers.IntegerField(help_text="inclusive")


class ModelCardRateSerializer(ModelCardBandSerializer):
    count = serializers.IntegerField()
    defaults = serializers.IntegerField()
    default_rate = serializers.FloatField(allow_null=True, help_text="defaults / count; null when count is 0")


class ModelCardGroupSerializer(serializers.Serializer):
    attribute = serializers.CharField()
    group = serializers.CharField()
    count = serializers.IntegerField()
    mean_score = serializers.FloatField()
    p5 = serializers.FloatField()
    p50 = serializers.FloatField()
    p95 = serializers.FloatField()
    defaults = serializers.IntegerField()
    default_rate = serializers.FloatField()
    auc = serializers.FloatField(allow_null=True, help_text="null when the group holds one outcome only")
    top_two_share = serializers.FloatField(help_text="share of the group in the top two bands")
    impact_ratio = serializers.FloatField(help_text="top_two_share / the best group's of the same attribute")
    flagged = serializers.BooleanField(help_text="impact_ratio below four_fifths")


class ModelCardAttributeSerializer(serializers.Serializer):
    attribute = serializers.ChoiceField(choices=["sex", "age", "education", "marriage"])
    title = serializers.CharField()
    groups = ModelCardGroupSerializer(many=True)


class ModelCardFairnessSerializer(serializers.Serializer):
    explanation = serializers.CharField()
    four_fifths = serializers.FloatField()
    top_two_floor = serializers.IntegerField()
    attributes = ModelCardAttributeSerializer(many=True)


class ModelCardEvaluationSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        described = serializers.DictField(help_text="the data set: name, split, test_rows, test_defaults, train_rows")
        return {"data": described, **super().get_fields()}

    auc = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="test-split AUC for not defaulting: score, logistic_regression, gradient_boosting",
    )
    distribution = serializers.DictField(
        child=serializers.FloatField(), help_text="test-split scores: mean, p5, p50, p95, p5_p95_span"
    )
    bands = ModelCardRateSerializer(many=True)
    buckets = ModelCardRateSerializer(many=True)
    falls_band_by_band = serializers.BooleanField()
    odds = serializers.DictField(
        help_text="score to odds of not defaulting, fitted on the train split: pdo (points to double "
        "the odds), odds_at_600, slope, log_odds_at_600, odds_at {score: odds}"
    )


class ModelCardExampleSerializer(serializers.Serializer):
    history = serializers.CharField()
    points = serializers.FloatField(help_text="card-repayment points of that history")


class ModelCardSerializer(serializers.Serializer):
    scale = serializers.DictField()
    factors = ModelCardFactorSerializer(many=True)
    friends = serializers.DictField()
    bands = ModelCardBandSerializer(many=True)
    examples = ModelCardExampleSerializer(many=True)
    example_amount = serializers.IntegerField(help_text="the amount due (EUR) of every example payment")
    evaluation = ModelCardEvaluationSerializer()
    fairness = ModelCardFairnessSerializer()
    model = serializers.DictField(help_text="params_fingerprint and generated_on of the published figures")


class ScoreModelView(APIView):
    """How the score works: the factors and their weights, what moves each, the bands, and what
    the score means on real data (default rates, points to double the odds, fairness)."""

    @extend_schema(
        responses={200: ModelCardSerializer},
        summary="How the score works",
        description=(
            "The score model's factors (weight, maximum points, what moves each, from the constants "
            "the model runs on), the bands, worked examples, and the figures measured on the UCI "
            "credit-card data set's test split: default rates per band and per 50-point bucket, "
            "points to double the odds, AUCs, and the fairness table per demographic group (which "
            "the score never reads). Members only."
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(model_card())
