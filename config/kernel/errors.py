"""Every API error is ``{"code": "...", "detail": "..."}`` with a stable ``code``.

Validation errors also carry ``fields``: ``{"<field>": ["message", ...]}``, and their
``detail`` names the first offending field, so a client can show it without parsing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response


class ErrorCode:
    """Codes shared by the code that raises them and the tests that check them."""

    PARSE_ERROR = "parse_error"
    TOO_DEEP = "too_deep"  # 400: JSON nested deeper than the limit (config.kernel.json_limits)
    TOO_LARGE = "too_large"  # 413: a body or message over the size limit
    INVALID = "invalid"
    UNKNOWN_FIELD = "unknown_field"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    THROTTLED = "throttled"
    LOCKED_OUT = "locked_out"
    SERVER_ERROR = "server_error"


class DomainError(Exception):
    """A rule of the domain said no. The one base of every app's errors.

    ``status`` is the HTTP status the API answers with, ``code`` a stable code (``ErrorCode`` or
    the raising app's own codes, shared with the tests), ``detail`` the sentence a person reads.
    Subclasses set them as class attributes; any of them may be given per raise:
    ``raise DomainError("Only friends.", code="not_friends", status=403)``. The API answers
    ``{"code", "detail"}`` (``exception_handler``); web views show ``detail`` as a message.
    """

    status: int = 400
    code: str = ErrorCode.INVALID
    detail: str = "Invalid request."

    def __init__(self, detail: str | None = None, *, status: int | None = None, code: str | None = None) -> None:
        if detail is not None:
            self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        super().__init__(self.detail)


class NotFound(DomainError):
    """What a stranger, a member who blocked you and an id that does not exist all raise: the very
    same answer as any unknown URL, so no response can tell them apart."""

    status, code, detail = 404, ErrorCode.NOT_FOUND, "Not found."

    def __init__(self) -> None:  # never a custom detail: it could tell cases apart
        super().__init__()


class ApiError(exceptions.APIException):
    """An error with a code of our own: ``raise ApiError(409, "in_flight", "...")``."""

    def __init__(self, status_code: int, code: str, detail: str) -> None:
        self.status_code = status_code
        super().__init__(detail=detail, code=code)


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"field.sub": [messages]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for k, v in _flatten(item, f"{prefix}[{index}]" if prefix else str(index)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _first_code(detail: Any) -> str | None:
    if isinstance(detail, dict):
        for value in detail.values():
            code = _first_code(value)
            if code:
                return code
    elif isinstance(detail, list):
        for value in detail:
            code = _first_code(value)
            if code:
                return code
    elif isinstance(detail, exceptions.ErrorDetail):
        return detail.code
    return None


def validation_error_body(detail: Any) -> dict[str, Any]:
    """``{"code", "detail", "fields"}`` for a DRF validation error's detail; ``detail`` names the
    first offending field."""
    fields = _flatten(detail)
    first_field, messages = next(iter(fields.items()))
    code = _first_code(detail) or ErrorCode.INVALID
    # DRF says "null" or "blank" for what a client thinks of as missing.
    code = "required" if code in {"null", "blank"} else code
    text = messages[0] if first_field == "non_field_errors" else f"{first_field}: {messages[0]}"
    return {"code": code, "detail": text, "fields": fields}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Not at the top: rest_framework.views builds APIView from the API settings, which name the
    # kernel's parser (json_limits), which imports this module: a cycle at import time.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        exc = ApiError(exc.status, exc.code, exc.detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        response.data = validation_error_body(exc.detail)
        return response

    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    code = codes if isinstance(codes, str) else ErrorCode.INVALID
    if isinstance(exc, exceptions.Throttled):
        code = ErrorCode.THROTTLED
    response.data = {"code": code, "detail": str(getattr(exc, "detail", exc))}
    return response


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status_code)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(status.HTTP_404_NOT_FOUND, ErrorCode.NOT_FOUND, "Not found.")


def api_server_error(request: HttpRequest) -> JsonResponse:
    return json_error(
        status.HTTP_500_INTERNAL_SERVER_ERROR, ErrorCode.SERVER_ERROR, "Something went wrong on our side."
    )
