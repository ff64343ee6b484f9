"""Members' data rights in the REST API (DESIGN.md §8, §10).

``POST me/export/`` (202) · ``GET me/export/`` · ``GET me/export/{id}/`` ·
``GET me/export/{id}/download/?sig=`` · ``GET/POST me/delete/``. The services' errors
(``DomainError``) become ``{"code", "detail"}`` in the API's exception handler.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from accounts.privacy import services as privacy
from accounts.privacy.errors import PrivacyCode
from accounts.privacy.models import DataExport
from config.kernel.errors import NotFound
from config.kernel.openapi import errors
from config.kernel.serializers import StrictSerializer
from config.kernel.throttles import ScopedThrottle


def export_representation(request: Request, export: DataExport) -> dict[str, Any]:
    url = None
    if export.status == DataExport.Status.READY and export.expires_at and export.expires_at > timezone.now():
        path = reverse("api-my-export-download", args=[export.pk])
        url = request.build_absolute_uri(f"{path}?sig={privacy.data_export_signature(export)}")
    return {"id": export.pk, "status": export.status, "created_at": export.created_at,
            "ready_at": export.ready_at, "expires_at": export.expires_at, "size": export.size, "url": url}


class MyExportsView(APIView):
    # A frozen member may still take their data with them.
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={202: None, **errors({429: [PrivacyCode.RATE_LIMITED]})})
    def post(self, request: Request) -> Response:
        export = privacy.data_export_request(member=member_of(request))
        return Response({"id": export.pk, "status": export.status}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(operation_id="me_export_list", responses={200: None})
    def get(self, request: Request) -> Response:
        return Response({"results": [export_representation(request, e)
                                     for e in privacy.exports_of(member=member_of(request))]})


class MyExportView(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: Request, export_id: int) -> Response:
        export = DataExport.objects.filter(pk=export_id, member=member_of(request)).first()
        if export is None:
            raise NotFound()
        return Response(export_representation(request, export))


class MyExportDownloadView(APIView):
    """The file itself: the owner only, with a signed link younger than a day."""

    @extend_schema(
        parameters=[OpenApiParameter("sig", str, description="The signature of the link `url` gave (a day).")],
        responses={(200, "application/json"): None, **errors({
            403: [PrivacyCode.BAD_SIGNATURE], 404: [], 409: [PrivacyCode.EXPORT_NOT_READY],
            410: [PrivacyCode.EXPORT_EXPIRED]}, _409="The export is being prepared.", _410="The export has expired.")})
    def get(self, request: Request, export_id: int) -> FileResponse:
        export, handle = privacy.data_export_open(export_id=export_id, member=member_of(request),
                                                  signature=request.query_params.get("sig", ""))
        response = FileResponse(handle, as_attachment=True, filename=f"credo-export-{export.pk}.json",
                                content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response


class DeleteSerializer(StrictSerializer):
    password = serializers.CharField(max_length=256, trim_whitespace=False)
    confirm = serializers.BooleanField()


class DeleteBodySerializer(DeleteSerializer):
    """Deleting takes the password and ``confirm: true`` (anything else: 400 ``confirmation_required``)."""

    confirm = serializers.ChoiceField(choices=[True])  # type: ignore[assignment]  # documentation

    class Meta:
        ref_name = "AccountDelete"


class MyAccountDeleteView(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "auth"  # a password check: throttled like log-in, per client address

    @extend_schema(request=DeleteBodySerializer, responses={200: None, **errors({
        400: [PrivacyCode.WRONG_PASSWORD, PrivacyCode.CONFIRMATION_REQUIRED]})})
    def post(self, request: Request) -> Response:
        serializer = DeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = privacy.member_delete(member=member_of(request), **serializer.validated_data)
        return Response(result)

    @extend_schema(responses={200: None})
    def get(self, request: Request) -> Response:
        """What deletion removes and what it keeps (and why), before you confirm."""
        return Response({"removed": privacy.REMOVED, "kept": privacy.KEPT})

