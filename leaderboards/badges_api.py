"""``GET me/badges/`` → ``{earned: [...], catalogue: [...]}``: my badges, newest first, and every
badge of the catalogue with my tiers and progress (``leaderboards.badges.BadgeStatus.as_dict``).

Only ever the signed-in member's own: there is no way to ask for someone else's here (their
board of honour shows what they allow).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.typing import member_of
from leaderboards.badges import badges_overview, newest_first


class MyBadgesView(APIView):
    @extend_schema(summary="My badges, and what the others take", responses={200: None})
    def get(self, request: Request) -> Response:
        overview = badges_overview(member=member_of(request))
        return Response({
            "earned": [e.as_dict() for e in newest_first(overview)],
            "catalogue": [s.as_dict() for s in overview],
        })
