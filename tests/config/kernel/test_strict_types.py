"""A strict serializer takes the JSON types its schema says, as the OpenAPI document promises."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from config.kernel.serializers import StrictSerializer


class Sample(StrictSerializer):
    flag = serializers.BooleanField(required=False)
    count = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    needed = serializers.CharField()


@pytest.mark.parametrize(("field", "value"), [
    ("flag", "true"), ("flag", 1), ("flag", 0),
    ("count", "5"), ("count", True), ("count", 1.5),
    ("name", 5), ("name", ["x"]),
])
def test_values_of_another_json_type_are_refused(field, value):
    serializer = Sample(data={"needed": "x", field: value})
    assert not serializer.is_valid()
    assert serializer.errors == {field: ["Must be " + {"flag": "true or false.", "count": "an integer.",
                                                        "name": "a string."}[field]]}
    assert serializer.errors[field][0].code == "invalid"


def test_the_right_types_pass_and_a_whole_float_is_an_integer():
    serializer = Sample(data={"needed": "x", "flag": False, "count": 5.0, "name": "n"})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"needed": "x", "flag": False, "count": 5, "name": "n"}


def test_a_wrong_type_is_reported_with_the_other_errors_in_field_order():
    serializer = Sample(data={"count": "5"})
    assert not serializer.is_valid()
    assert list(serializer.errors) == ["count", "needed"]
    assert serializer.errors["needed"][0].code == "required"
