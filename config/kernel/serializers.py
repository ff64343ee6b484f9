"""Serializer helpers shared by every app's API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

#: JSON's types for DRF's lenient fields: DRF takes "true" and 1 for a boolean, "5" for an integer,
#: 5 for a string. A strict serializer takes what its schema says (bool is not an integer here).
_JSON_TYPES: list[tuple[type[serializers.Field], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "Must be true or false."),
    (serializers.IntegerField, (int, float), "Must be an integer."),
    (serializers.CharField, (str,), "Must be a string."),
]


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    for kind, types, message in _JSON_TYPES:
        if isinstance(field, kind):
            wrong = not isinstance(value, types) or (kind is serializers.IntegerField and isinstance(value, bool))
            if kind is serializers.IntegerField and isinstance(value, float) and not value.is_integer():
                wrong = True
            return message if wrong and value is not None else None
    return None


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (``unknown_field``) instead of silently dropping them, and
    values of another JSON type than the field's (``invalid``: ``"true"`` for a boolean, ``"5"`` for
    an integer, ``5`` for a string), as its OpenAPI schema says.

    A typo in a client (``emial``) should fail loudly, not be ignored. Query parameters (strings
    by nature) are read by plain serializers, or by one that sets ``json_types = False``.
    """

    json_types = True

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}, code="unknown_field"
                )
            wrong = {name: [serializers.ErrorDetail(message, code="invalid")]
                     for name, field in self.fields.items()
                     if self.json_types and name in data and not field.read_only
                     and (message := _json_type_error(field, data[name])) is not None}
            if wrong:
                # Reported with the other fields' errors (a missing one too), in the fields' order.
                others: dict[str, Any] = {}
                try:
                    super().to_internal_value({k: v for k, v in data.items() if k not in wrong})
                except serializers.ValidationError as exc:
                    detail: Any = exc.detail
                    others = {str(k): v for k, v in detail.items()} if isinstance(detail, dict) else {}
                errors: dict[str, Any] = {**others, **wrong}
                ordered: list[str] = [str(name) for name in self.fields if name in errors]
                ordered += [name for name in errors if name not in ordered]
                raise serializers.ValidationError({name: errors[name] for name in ordered})
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass
