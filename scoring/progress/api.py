"""The member's streak and progress to the next band (REST): ``GET me/streak/``,
``GET me/score/progress/``. Read-only; a member only ever reads their own."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from scoring.ledger.streaks import member_streak
from scoring.progress.next_band import member_progress


class MyStreakView(APIView):
    """``{current_months, best_months, last_on_time, breaks_on, keep_by, current_since, best_since,
    best_until, this_month_kept, today, timezone, months: [{month: "YYYY-MM", state}]}``; dates are
    the member's local dates (``scoring.ledger.streaks`` defines them)."""

    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        return Response(member_streak(member=member_of(request)).as_dict())


class MyProgressView(APIView):
    """``{score, band, top_band, next_band: {name, min_score, points_needed} | null, message,
    gets_there: [option], options: [option]}``, option = ``{code, text, points, points_text,
    new_score, reaches_next_band, link}`` (exact what-if gains; ``scoring.progress.next_band``)."""

    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        return Response(member_progress(member=member_of(request)).as_dict())
