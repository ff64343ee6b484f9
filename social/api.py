"""The friend graph on the REST API (DESIGN.md §8): friends, friend-requests, blocks,
invitations. Thin: parse, call one service or selector, shape the answer.

Anything that addresses another member who is not my friend, blocked me, or does not exist
answers the same 404 ``{"code": "not_found", "detail": "Not found."}``. The services' errors are
``DomainError``s: the API's exception handler answers them as ``{"code", "detail"}``.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from config.kernel.openapi import errors
from social.graph import selectors, services
from social.graph.errors import SocialCode
from social.graph.models import FriendRequest
from social.invitations import selectors as invitations_selectors
from social.invitations import services as invitations_services
from social.invitations.errors import InvitationCode
from social.serializers import (
    BlockCreateSerializer,
    BlockSerializer,
    FriendRequestCreateSerializer,
    FriendRequestListSerializer,
    FriendSerializer,
    InvitationAcceptedSerializer,
    InvitationCreatedSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    OutgoingRequestSerializer,
    SuggestionSerializer,
)


def _friend(member: Any, username: str) -> dict:
    return FriendSerializer(selectors.friend_detail(member=member, username=username)).data


class FriendsView(APIView):
    @extend_schema(responses=FriendSerializer(many=True))
    def get(self, request: Request) -> Response:
        friends = selectors.friends_of(member=member_of(request))
        return Response(FriendSerializer(friends, many=True).data)


class FriendDetailView(APIView):
    @extend_schema(responses={200: FriendSerializer, **errors({404: []})})
    def get(self, request: Request, username: str) -> Response:
        return Response(_friend(member_of(request), username))

    @extend_schema(responses={204: None, **errors({404: []})})
    def delete(self, request: Request, username: str) -> Response:
        services.friendship_unfriend(member=member_of(request), username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendSuggestionsView(APIView):
    @extend_schema(responses=SuggestionSerializer(many=True))
    def get(self, request: Request) -> Response:
        suggestions = selectors.suggestions_for(member=member_of(request))
        return Response(SuggestionSerializer(suggestions, many=True).data)

    @extend_schema(summary="Unfriend the member named \"suggestions\"",
                   description="`friends/<username>/` for the username `suggestions`, whose path this one shares.",
                   responses={204: None, **errors({404: []})})
    def delete(self, request: Request) -> Response:
        # "suggestions" is a valid username: DELETE friends/suggestions/ unfriends that member.
        return FriendDetailView().delete(request, "suggestions")


class FriendRequestsView(APIView):
    @extend_schema(responses=FriendRequestListSerializer)
    def get(self, request: Request) -> Response:
        me = member_of(request)
        data = {
            "incoming": selectors.incoming_requests(member=me),
            "outgoing": selectors.outgoing_requests(member=me),
        }
        return Response(FriendRequestListSerializer(data).data)

    @extend_schema(request=FriendRequestCreateSerializer, responses={
        201: OutgoingRequestSerializer, 200: OutgoingRequestSerializer,
        **errors({400: [SocialCode.CANNOT_FRIEND_SELF], 404: [],
                  409: [SocialCode.ALREADY_FRIENDS, SocialCode.YOU_BLOCKED]},
                 _404="No such member (or one who blocked you: the same answer).")})
    def post(self, request: Request) -> Response:
        serializer = FriendRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sent = services.friend_request_send(
            from_user=member_of(request), to_username=serializer.validated_data["to"]
        )
        return Response(
            OutgoingRequestSerializer(sent.request).data,
            status=status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK,
        )


def _incoming(request: Request, pk: int) -> FriendRequest:
    return selectors.request_for_recipient(member=member_of(request), request_id=pk)


class FriendRequestAcceptView(APIView):
    @extend_schema(request=None, responses={200: FriendSerializer,
                                            **errors({404: [], 409: [SocialCode.REQUEST_CLOSED]})})
    def post(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        friend_request = _incoming(request, pk)
        services.friend_request_accept(request=friend_request, by=me)
        return Response(_friend(me, friend_request.from_user.username))


class FriendRequestDeclineView(APIView):
    @extend_schema(request=None, responses={204: None, **errors({404: [], 409: [SocialCode.REQUEST_CLOSED]})})
    def post(self, request: Request, pk: int) -> Response:
        services.friend_request_decline(request=_incoming(request, pk), by=member_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendRequestDetailView(APIView):
    @extend_schema(responses={204: None, **errors({404: [], 409: [SocialCode.REQUEST_CLOSED]})})
    def delete(self, request: Request, pk: int) -> Response:
        me = member_of(request)
        friend_request = selectors.request_for_sender(member=me, request_id=pk)
        services.friend_request_cancel(request=friend_request, by=me)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlocksView(APIView):
    @extend_schema(responses=BlockSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(BlockSerializer(selectors.blocks_of(member=member_of(request)), many=True).data)

    @extend_schema(request=BlockCreateSerializer, responses={
        201: BlockSerializer, 200: BlockSerializer,
        **errors({400: [SocialCode.CANNOT_BLOCK_SELF], 404: []})})
    def post(self, request: Request) -> Response:
        serializer = BlockCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        block, created = services.block_create(
            blocker=member_of(request), username=serializer.validated_data["username"]
        )
        return Response(
            BlockSerializer(block).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class BlockDetailView(APIView):
    @extend_schema(responses={204: None, **errors({404: []})})
    def delete(self, request: Request, username: str) -> Response:
        services.block_remove(blocker=member_of(request), username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationsView(APIView):
    @extend_schema(responses=InvitationSerializer(many=True))
    def get(self, request: Request) -> Response:
        invitations = invitations_selectors.invitations_of(member=member_of(request))
        return Response(InvitationSerializer(invitations, many=True).data)

    @extend_schema(request=InvitationCreateSerializer, responses={
        201: InvitationCreatedSerializer, **errors({429: [InvitationCode.RATE_LIMITED]})})
    def post(self, request: Request) -> Response:
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = invitations_services.invitation_create(
            inviter=member_of(request),
            email=serializer.validated_data["email"],
            url_for=lambda token: request.build_absolute_uri(reverse("invitation", args=[token])),
        )
        return Response(InvitationCreatedSerializer(created).data, status=status.HTTP_201_CREATED)


class InvitationAcceptView(APIView):
    @extend_schema(request=None, responses={
        200: InvitationAcceptedSerializer,
        **errors({400: [SocialCode.CANNOT_FRIEND_SELF], 409: [SocialCode.ALREADY_FRIENDS, SocialCode.YOU_BLOCKED],
                  410: [InvitationCode.INVITATION_GONE]}, _410="This invitation has expired or was already used.")})
    def post(self, request: Request, token: str) -> Response:
        me = member_of(request)
        friendship = invitations_services.invitation_accept(token=token, user=me)
        inviter = friendship.member_a if friendship.member_b_id == me.pk else friendship.member_b
        return Response({"friend": _friend(me, inviter.username)})
