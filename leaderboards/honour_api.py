"""``GET /api/v1/members/<username>/``: a member's board of honour (``leaderboards.honour``).

Open to signed-out clients for profiles their owner made public; everything else a viewer may
not see answers the same 404 ``{"code": "not_found", "detail": "Not found."}``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from leaderboards.honour import honour_for
from social.errors import NotFound


class _StreakSerializer(serializers.Serializer):
    current_months = serializers.IntegerField()
    best_months = serializers.IntegerField()


class _BadgeSerializer(serializers.Serializer):
    badge = serializers.CharField()
    name = serializers.CharField()
    tier = serializers.CharField()
    key = serializers.CharField()
    explanation = serializers.CharField()
    awarded_at = serializers.DateTimeField()


class HonourSerializer(serializers.Serializer):
    """The shape of ``Honour.as_dict()`` (documentation only: the selector builds the body)."""

    username = serializers.CharField()
    is_me = serializers.BooleanField()
    is_friend = serializers.BooleanField()
    score = serializers.IntegerField(allow_null=True, help_text="Only for the member and their friends.")
    band = serializers.CharField()
    member_since = serializers.DateField()
    streak = _StreakSerializer()
    badges = _BadgeSerializer(many=True)


class HonourView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(summary="A member's board of honour: badges, band, streak, member since",
                   responses=HonourSerializer)
    def get(self, request: Request, username: str) -> Response:
        try:
            honour = honour_for(username=username, viewer=request.user)
        except NotFound as exc:
            raise ApiError(exc.status, exc.code, exc.detail) from None
        return Response(honour.as_dict())
