"""The API's errors in its OpenAPI document: one ``Error`` schema, and every status an operation
can answer with, with its ``code`` values.

Views name their own refusals with ``errors({409: ["already_connected"], ...})`` in
``extend_schema(responses=...)``. ``add_error_responses`` (a drf-spectacular postprocessing hook)
adds what every operation of a kind can answer, where the view did not say it already:

* every operation: 429 ``throttled``;
* one that needs a member: 401 (``not_authenticated``, ``authentication_failed``), 403
  (``permission_denied``, ``account_frozen``);
* one that takes a body: 400 (``parse_error``, ``too_deep``, ``invalid``, ``required``,
  ``unknown_field``, and each field's own codes), 413 ``too_large``, 415 ``unsupported_media_type``;
  one with query parameters: 400;
* one with a path parameter: 404 ``not_found``.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from config.kernel.errors import ErrorCode

ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer: a stable `code`, the sentence a person reads (`detail`), and for "
                   "validation errors the messages of each offending field (`fields`).",
    "properties": {
        "code": {"type": "string", "description": "A stable code: see each response's description."},
        "detail": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                   "description": "Validation errors only: the messages of each offending field."},
    },
    "required": ["code", "detail"],
}

VALIDATION_CODES = [ErrorCode.PARSE_ERROR, ErrorCode.TOO_DEEP, ErrorCode.INVALID, "required",
                    ErrorCode.UNKNOWN_FIELD]
GENERIC: dict[int, tuple[str, list[str]]] = {
    400: ("The request is invalid.", VALIDATION_CODES),
    401: ("Authentication is missing or wrong.", [ErrorCode.NOT_AUTHENTICATED, ErrorCode.AUTHENTICATION_FAILED]),
    403: ("Not allowed.", [ErrorCode.PERMISSION_DENIED, "account_frozen"]),
    404: ("Not found (or not yours to see: the same answer).", [ErrorCode.NOT_FOUND]),
    413: ("The body is over the size limit (2.5 MB).", [ErrorCode.TOO_LARGE]),
    415: ("Send JSON (Content-Type: application/json).", [ErrorCode.UNSUPPORTED_MEDIA_TYPE]),
    429: ("Too many requests: wait (see Retry-After) and try again.", [ErrorCode.THROTTLED]),
}


def _describe(text: str, codes: list[str]) -> str:
    return f"{text} `code`: {', '.join(f'`{c}`' for c in codes)}."


#: The generic codes a view's own list of a status keeps (the others depend on how it authenticates).
STRUCTURAL = {400, 404, 413, 415, 429}


def errors(by_status: dict[int, list[str]], **descriptions: str) -> dict[int, OpenApiResponse]:
    """``extend_schema`` responses for a view's own refusals: ``{status: [codes]}``; 400, 404, 413,
    415 and 429 keep their generic codes too. ``descriptions`` (``_409="…"``) word a status."""
    out = {}
    for status, codes in by_status.items():
        text, generic = GENERIC.get(status, ("Refused.", []))
        generic = generic if status in STRUCTURAL else []
        text = descriptions.get(f"_{status}", text)
        out[status] = OpenApiResponse(response=ERROR_REF, description=_describe(text, [*generic, *codes]))
    return out


def _error_response(status: int) -> dict[str, Any]:
    text, codes = GENERIC[status]
    return {"description": _describe(text, codes),
            "content": {"application/json": {"schema": ERROR_REF}}}


def _needs_member(operation: dict[str, Any], default_security: list[dict[str, Any]]) -> bool:
    security = operation.get("security", default_security)
    return bool(security) and not any(requirement == {} for requirement in security)


#: drf-spectacular's pattern for a decimal string, which also matches "" and "." (DRF refuses both).
_LOOSE_DECIMAL = re.compile(r"^\^-\?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$$")


def _align_strings(node: Any) -> None:
    """Strings as DRF reads them. Decimal strings need a digit (an empty amount is not a valid
    one). Email addresses are what Django's validator takes (the request bodies' pattern), not JSON
    Schema's ``format: email`` (RFC 5321's limits, which Django does not apply); without the format,
    drf-spectacular's "an email or blank" (``oneOf`` an email and an empty string) is just a string."""
    if isinstance(node, dict):
        if node.get("format") == "email":
            del node["format"]
        pattern = node.get("pattern")
        if node.get("format") == "decimal" and isinstance(pattern, str):
            loose = _LOOSE_DECIMAL.match(pattern)
            if loose:
                whole, places = loose.groups()
                node["pattern"] = rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"
        for value in node.values():
            _align_strings(value)
        choices = node.get("oneOf")
        if isinstance(choices, list) and {"type": "string"} in choices and all(
                isinstance(c, dict) and c.get("type") == "string" and set(c) <= {"type", "maxLength"}
                for c in choices):
            del node["oneOf"]
            node["type"] = "string"
    elif isinstance(node, list):
        for value in node:
            _align_strings(value)


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: see the module's docstring."""
    _align_strings(result)
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    default_security = result.get("security", [])
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            parameters = operation.get("parameters", [])
            wanted = {429}
            if _needs_member(operation, default_security):
                wanted |= {401, 403}
            if "requestBody" in operation:
                wanted |= {400, 413, 415}
            if any(p.get("in") == "query" for p in parameters):
                wanted.add(400)
            if "{" in path:
                wanted.add(404)
            responses = operation.setdefault("responses", {})
            for status in sorted(wanted):
                responses.setdefault(str(status), _error_response(status))
    return result


class StrictSerializerExtension(OpenApiSerializerExtension):
    """A ``StrictSerializer`` refuses fields it does not know (400 ``unknown_field``): its request
    bodies say so (``additionalProperties: false``)."""

    target_class = "config.kernel.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
            for name, field in self.target.fields.items():
                prop = schema.get("properties", {}).get(name)
                if isinstance(field, serializers.DecimalField) and isinstance(prop, dict) and "pattern" in prop:
                    prop["pattern"] = decimal_pattern(field)
                elif isinstance(field, serializers.EmailField) and isinstance(prop, dict):
                    prop["pattern"] = rf"^(?:{EMAIL})?$" if field.allow_blank else rf"^{EMAIL}$"
                elif isinstance(field, serializers.CharField) and isinstance(prop, dict) and "pattern" not in prop:
                    prop["pattern"] = text_pattern(field)
        return schema


#: The addresses Django's EmailValidator takes (unquoted local parts, a letters-only top-level domain).
EMAIL = (r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
         r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def text_pattern(field: serializers.CharField) -> str:
    """What DRF's text fields take: no NUL character, and unless blank is allowed, something
    besides whitespace (which is trimmed away)."""
    if field.allow_blank or not field.trim_whitespace:
        return r"^[^\x00]*$" if field.allow_blank else r"^[^\x00]+$"
    return r"^[^\x00]*[^\s\x00][^\x00]*$"


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


#: A boolean in a query string, as DRF reads it: its true and false words in any case, or empty
#: (not given).
QUERY_BOOLEAN_PATTERN = "^(?:{})?$".format("|".join(
    _any_case(word) for word in sorted(
        {str(v) for v in serializers.BooleanField.TRUE_VALUES | serializers.BooleanField.FALSE_VALUES
         if isinstance(v, str)}, key=lambda w: (-len(w), w))))


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The strings ``field`` takes: digits within its precision, a sign only if it takes negative
    values, never zero if its minimum is above zero (its places make any positive value ≥ it)."""
    places = field.decimal_places or 0
    whole = (field.max_digits or 30) - places
    number = rf"(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})" if places else rf"\d{{1,{whole}}}"
    minimum = field.min_value
    if minimum is None or minimum < 0:
        return rf"^-?{number}$"
    if minimum == 0:
        return rf"^{number}$"
    return rf"^(?!0*\.?0*$){number}$"
