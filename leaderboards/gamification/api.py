"""Gamification on the REST API (DESIGN.md §8, §9): only ever the signed-in member's own badges, perks
and challenges, and a member's board of honour as its owner allows.

* ``GET me/badges/`` → ``{earned: [...], catalogue: [...]}``: my badges, newest first, and every
  badge of the catalogue with my tiers and progress (``badges.BadgeStatus.as_dict``).
* ``GET me/perks/`` → ``{score, frozen, held: [perk], next: {min_score, band, points_away, perks} |
  null, all: [perk + {status: held|locked|paused, why, since}], lost: [perk + {granted_at,
  revoked_at, why}]}``, perk = ``{slug, name, description, provider, min_score, band}``.
* ``GET members/<username>/``: a member's board of honour. Open to signed-out clients for
  profiles their owner made public; everything else a viewer may not see answers the same 404
  ``{"code": "not_found", "detail": "Not found."}``.
* ``GET/POST challenges/`` (``{"opponents": ["bob"]}`` → 201), ``GET challenges/{id}/``,
  ``POST challenges/{id}/accept/`` · ``/decline/`` · ``/cancel/`` (→ 200, the challenge).

Thin: parse, call one service or selector, shape the answer. Errors are ``DomainError``s
(``ChallengeError``, ``NotFound``): the API's exception handler answers them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from config.kernel.openapi import errors
from config.kernel.serializers import StrictSerializer
from leaderboards.gamification import challenges
from leaderboards.gamification.badges import badges_overview, newest_first
from leaderboards.gamification.challenges import ChallengeCode
from leaderboards.gamification.honour import honour_for
from leaderboards.gamification.perks import member_perks
from social.graph import selectors as social_selectors


class MyBadgesView(APIView):
    @extend_schema(summary="My badges, and what the others take", responses={200: None})
    def get(self, request: Request) -> Response:
        overview = badges_overview(member=member_of(request))
        return Response({
            "earned": [e.as_dict() for e in newest_first(overview)],
            "catalogue": [s.as_dict() for s in overview],
        })


class MyPerksView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        return Response(member_perks(member=member_of(request)).as_dict())


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
        return Response(honour_for(username=username, viewer=request.user).as_dict())


class ChallengeCreateSerializer(StrictSerializer):
    opponents = serializers.ListField(child=serializers.CharField(max_length=150), allow_empty=True,
                                      help_text=f"Usernames of 1 to {challenges.MAX_OPPONENTS} friends.")


class ChallengeBodySerializer(ChallengeCreateSerializer):
    """Documentation of ``ChallengeCreateSerializer``: the limits the service enforces on it."""

    opponents = serializers.ListField(child=serializers.RegexField(r"^[\w.@+-]+$", max_length=150), min_length=1,
                                      max_length=challenges.MAX_OPPONENTS,
                                      help_text=f"Usernames of 1 to {challenges.MAX_OPPONENTS} friends.")

    class Meta:
        ref_name = "ChallengeCreate"


def _answer(request: Request, pk: int) -> Response:
    me = member_of(request)
    return Response(challenges.challenge_dict(challenges.challenge_for_member(member=me, challenge_id=pk),
                                              viewer_id=me.pk))


class ChallengesView(APIView):
    @extend_schema(operation_id="v1_challenges_list", responses={200: None})
    def get(self, request: Request) -> Response:
        me = member_of(request)
        friends = social_selectors.friend_ids(member_id=me.pk)  # once for the whole list
        return Response([challenges.challenge_dict(c, viewer_id=me.pk, friends=friends)
                         for c in challenges.challenges_of(member=me)])

    @extend_schema(request=ChallengeBodySerializer, responses={201: None, **errors({
        400: [ChallengeCode.NO_OPPONENTS, ChallengeCode.TOO_MANY_OPPONENTS, ChallengeCode.DUPLICATE_OPPONENT,
              ChallengeCode.CANNOT_CHALLENGE_SELF, ChallengeCode.NOT_FRIENDS, ChallengeCode.OPPONENTS_NOT_FRIENDS,
              ChallengeCode.OPPONENT_UNAVAILABLE, ChallengeCode.NOT_ELIGIBLE],
        409: [ChallengeCode.TOO_MANY_CHALLENGES]})})
    def post(self, request: Request) -> Response:
        serializer = ChallengeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        me = member_of(request)
        opponents = challenges.opponents_by_username(member=me, usernames=serializer.validated_data["opponents"])
        created = challenges.challenge_create(by=me, opponents=opponents)
        return Response(challenges.challenge_dict(challenges.challenge_for_member(member=me, challenge_id=created.pk),
                                                  viewer_id=me.pk), status=status.HTTP_201_CREATED)


class ChallengeDetailView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request, pk: int) -> Response:
        return _answer(request, pk)


_ANSWER_ERRORS = errors({400: [ChallengeCode.NOT_ELIGIBLE], 404: [],
                         409: [ChallengeCode.ALREADY_ANSWERED, ChallengeCode.CHALLENGE_CLOSED,
                               ChallengeCode.TOO_MANY_CHALLENGES]})


class ChallengeAcceptView(APIView):
    @extend_schema(request=None, responses={200: None, **_ANSWER_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        challenges.challenge_answer(challenge=challenges.challenge_for_member(member=me, challenge_id=pk),
                                    member=me, accept=True)
        return _answer(request, pk)


class ChallengeDeclineView(APIView):
    @extend_schema(request=None, responses={200: None, **_ANSWER_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        challenges.challenge_answer(challenge=challenges.challenge_for_member(member=me, challenge_id=pk),
                                    member=me, accept=False)
        return _answer(request, pk)


class ChallengeCancelView(APIView):
    @extend_schema(request=None, responses={200: None, **errors({
        403: [ChallengeCode.NOT_CREATOR], 404: [],
        409: [ChallengeCode.ALREADY_RUNNING, ChallengeCode.CHALLENGE_CLOSED]})})
    def post(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        challenges.challenge_cancel(challenge=challenges.challenge_for_member(member=me, challenge_id=pk), by=me)
        return _answer(request, pk)

