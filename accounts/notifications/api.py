"""The notification feed in the REST API (DESIGN.md §8, §9).

``GET me/notifications/?limit=&cursor=&unread=1`` → ``{results, unread, next}`` ·
``POST me/notifications/read/`` ``{ids?: [...]}`` → ``{read}`` (all when ``ids`` is absent;
other members' ids are ignored) · ``GET/PUT me/notifications/mutes/`` ``{muted: [kind, ...]}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from accounts.notifications import feed as notifications
from accounts.notifications.feed import NotificationCode
from config.kernel.errors import ApiError
from config.kernel.openapi import QUERY_BOOLEAN_PATTERN, errors
from config.kernel.serializers import StrictSerializer


class FeedQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=notifications.MAX_PAGE_SIZE,
                                     default=notifications.PAGE_SIZE)
    cursor = serializers.CharField(max_length=200, required=False, default="", allow_blank=True,
                                   help_text="`next` of the previous page")
    unread = serializers.BooleanField(required=False, default=False, help_text="true: unread notifications only")


class NotificationsView(APIView):
    @extend_schema(
        parameters=[FeedQuerySerializer,
                    OpenApiParameter("unread", str, pattern=QUERY_BOOLEAN_PATTERN,
                                     description="true: unread notifications only")],
        responses={200: None, **errors({400: [NotificationCode.INVALID_CURSOR, "min_value", "max_value"]})},
    )
    def get(self, request: Request) -> Response:
        query = FeedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        me = member_of(request)
        try:
            page = notifications.feed_page(member_id=me.pk, limit=query.validated_data["limit"],
                                           cursor=query.validated_data["cursor"],
                                           unread_only=query.validated_data["unread"])
        except notifications.InvalidCursor as exc:
            raise ApiError(400, NotificationCode.INVALID_CURSOR, "This cursor is not valid: start again "
                                                                 "without one.") from exc
        return Response({"results": [notifications.representation(n) for n in page.items],
                         "unread": notifications.unread_count(member_id=me.pk), "next": page.next_cursor})


class ReadSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=500, required=False)


class NotificationsReadView(APIView):
    @extend_schema(request=ReadSerializer, responses={200: None})
    def post(self, request: Request) -> Response:
        serializer = ReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        me = member_of(request)
        count = notifications.notifications_mark_read(member_id=me.pk, ids=serializer.validated_data.get("ids"))
        return Response({"read": count, "unread": notifications.unread_count(member_id=me.pk)})


class MutesSerializer(StrictSerializer):
    muted = serializers.ListField(child=serializers.CharField(max_length=20), max_length=50)

    def validate_muted(self, value: list[str]) -> list[str]:
        unknown = sorted({k for k in value if k not in notifications.Kind.values})
        if unknown:
            raise serializers.ValidationError(f"Unknown kind: {', '.join(unknown)}.",
                                              code=NotificationCode.UNKNOWN_KIND)
        fixed = sorted({k for k in value if k in notifications.UNMUTABLE})
        if fixed:
            raise serializers.ValidationError(
                f"{', '.join(fixed)} cannot be muted: a moderator's decision about you always reaches you.",
                code=NotificationCode.NOT_MUTABLE)
        return value


class MutesBodySerializer(MutesSerializer):
    """Documentation of ``MutesSerializer``: the kinds that can be muted."""

    muted = serializers.ListField(child=serializers.ChoiceField(choices=list(notifications.MUTABLE)), max_length=50)

    class Meta:
        ref_name = "NotificationMutes"


def mutes_representation(member_id: int) -> dict[str, Any]:
    return {"muted": notifications.muted_kinds(member_id=member_id), "mutable": list(notifications.MUTABLE)}


class NotificationMutesView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        return Response(mutes_representation(member_of(request).pk))

    @extend_schema(request=MutesBodySerializer, responses={200: None, **errors(
        {400: [NotificationCode.UNKNOWN_KIND, NotificationCode.NOT_MUTABLE]})})
    def put(self, request: Request) -> Response:
        serializer = MutesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        me = member_of(request)
        notifications.notification_mutes_set(member_id=me.pk, kinds=serializer.validated_data["muted"])
        return Response(mutes_representation(me.pk))
