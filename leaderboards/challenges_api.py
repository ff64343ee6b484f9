"""Challenges on the REST API (DESIGN.md §8, §9). Thin: parse, call one service or selector,
shape the answer with ``challenges.challenge_dict``.

``GET/POST challenges/`` (``{"opponents": ["bob"]}`` → 201), ``GET challenges/{id}/``,
``POST challenges/{id}/accept/`` · ``/decline/`` · ``/cancel/`` (→ 200, the challenge).
A challenge you do not take part in answers 404 ``not_found``; the other codes are
``challenges.ChallengeCode``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from config.serializers import StrictSerializer
from config.typing import member_of
from leaderboards import challenges
from leaderboards.challenges import ChallengeError
from social import selectors as social_selectors


class ChallengeCreateSerializer(StrictSerializer):
    opponents = serializers.ListField(child=serializers.CharField(max_length=150), allow_empty=True,
                                      help_text=f"Usernames of 1 to {challenges.MAX_OPPONENTS} friends.")


class ChallengeAPIView(APIView):
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ChallengeError):
            exc = ApiError(exc.status, exc.code, exc.detail)
        return super().handle_exception(exc)


def _answer(request: Request, pk: int) -> Response:
    me = member_of(request)
    return Response(challenges.challenge_dict(challenges.challenge_for_member(member=me, challenge_id=pk),
                                              viewer_id=me.pk))


class ChallengesView(ChallengeAPIView):
    @extend_schema(operation_id="v1_challenges_list", responses={200: None})
    def get(self, request: Request) -> Response:
        me = member_of(request)
        friends = social_selectors.friend_ids(member_id=me.pk)  # once for the whole list
        return Response([challenges.challenge_dict(c, viewer_id=me.pk, friends=friends)
                         for c in challenges.challenges_of(member=me)])

    @extend_schema(request=ChallengeCreateSerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        serializer = ChallengeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        me = member_of(request)
        opponents = challenges.opponents_by_username(member=me, usernames=serializer.validated_data["opponents"])
        created = challenges.challenge_create(by=me, opponents=opponents)
        return Response(challenges.challenge_dict(challenges.challenge_for_member(member=me, challenge_id=created.pk),
                                                  viewer_id=me.pk), status=status.HTTP_201_CREATED)


class ChallengeDetailView(ChallengeAPIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request, pk: int) -> Response:
        return _answer(request, pk)


class ChallengeAcceptView(ChallengeAPIView):
    @extend_schema(request=None, responses={200: None})
    def post(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        challenges.challenge_answer(challenge=challenges.challenge_for_member(member=me, challenge_id=pk),
                                    member=me, accept=True)
        return _answer(request, pk)


class ChallengeDeclineView(ChallengeAPIView):
    @extend_schema(request=None, responses={200: None})
    def post(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        challenges.challenge_answer(challenge=challenges.challenge_for_member(member=me, challenge_id=pk),
                                    member=me, accept=False)
        return _answer(request, pk)


class ChallengeCancelView(ChallengeAPIView):
    @extend_schema(request=None, responses={200: None})
    def post(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        challenges.challenge_cancel(challenge=challenges.challenge_for_member(member=me, challenge_id=pk), by=me)
        return _answer(request, pk)
