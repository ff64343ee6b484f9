"""``GET me/perks/``: ``{score, frozen, held: [perk], next: {min_score, band, points_away, perks} |
null, all: [perk + {status: held|locked|paused, why, since}], lost: [perk + {granted_at,
revoked_at, why}]}``, perk = ``{slug, name, description, provider, min_score, band}``.
A member only ever reads their own (``leaderboards.perks``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.typing import member_of
from leaderboards.perks import member_perks


class MyPerksView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        return Response(member_perks(member=member_of(request)).as_dict())
