"""The boards on the REST API (DESIGN.md §8).

``GET leaderboards/{global|friends|weekly}/?around=me&limit=&cursor=&season=``
→ ``{board, seq, season?, entries: [{rank, username, score, band, is_me}], next, total, my_rank,
my_score, percentile}``. ``next`` is the cursor of the following page (or null); ``percentile``
is the share of the board strictly below me (%). ``season`` (weekly only): ``{id, starts_at,
ends_at, closed, time_left}`` (seconds); ``?season=<id>`` reads a past season's final standings.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from config.kernel import errors, openapi
from config.kernel.serializers import StrictSerializer
from leaderboards.boards import backends, services
from leaderboards.boards.auth import BoardTokenAuthentication
from leaderboards.boards.models import Season
from leaderboards.boards.ranking import CURSOR_MAX_CHARS, Cursor, InvalidCursor
from leaderboards.live import protocol


class BoardQuerySerializer(StrictSerializer):
    json_types = False  # query parameters: strings

    around = serializers.ChoiceField(choices=["me"], required=False)
    limit = serializers.IntegerField(min_value=1, max_value=backends.MAX_LIMIT, default=backends.DEFAULT_LIMIT)
    cursor = serializers.CharField(required=False, max_length=CURSOR_MAX_CHARS, help_text="`next` of the previous page")
    season = serializers.IntegerField(required=False, min_value=1, help_text="weekly only: a past season's id")

    def validate(self, attrs: dict) -> dict:
        if "around" in attrs and "cursor" in attrs:
            raise serializers.ValidationError("Use either around or cursor, not both.", code="invalid")
        return attrs


class LeaderboardView(APIView):
    # The hottest read: one query for the token, not two (see BoardTokenAuthentication).
    authentication_classes = [BoardTokenAuthentication, SessionAuthentication]

    @extend_schema(
        description="One page of a board. `around=me` centres it on you; `cursor` (the `next` of the previous "
                    "page) pages on; not both. `season` (the weekly board only) reads a past season.",
        parameters=[
            OpenApiParameter("board", str, OpenApiParameter.PATH, enum=list(protocol.BOARDS)),
            BoardQuerySerializer,
        ],
        responses={200: None, **openapi.errors(
            {400: [protocol.ErrorCode.INVALID_CURSOR, "min_value", "max_value"],
             404: [protocol.ErrorCode.UNKNOWN_BOARD, protocol.ErrorCode.UNKNOWN_SEASON]})},
    )
    def get(self, request: Request, board: str) -> Response:
        if board not in protocol.BOARDS:
            raise errors.ApiError(status.HTTP_404_NOT_FOUND, protocol.ErrorCode.UNKNOWN_BOARD,
                           f"Unknown board: use one of {', '.join(protocol.BOARDS)}.")
        query = BoardQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            cursor = Cursor.decode(params["cursor"]) if "cursor" in params else None
        except InvalidCursor:
            raise errors.ApiError(status.HTTP_400_BAD_REQUEST, protocol.ErrorCode.INVALID_CURSOR,
                           "cursor: not a cursor this API gave out.") from None
        season = None
        if "season" in params:
            if board != protocol.WEEKLY:
                raise errors.ApiError(status.HTTP_400_BAD_REQUEST, errors.ErrorCode.INVALID,
                               "season: only the weekly board has seasons.")
            season = Season.objects.filter(pk=params["season"]).first()
            if season is None:
                raise errors.ApiError(status.HTTP_404_NOT_FOUND, protocol.ErrorCode.UNKNOWN_SEASON, "No such season.")
        me = member_of(request)
        view = services.board_for(board, viewer=me, season=season).view(
            viewer_id=me.pk, limit=params["limit"], cursor=cursor, around_me=params.get("around") == "me")
        return Response(view.as_dict(viewer_id=me.pk))

