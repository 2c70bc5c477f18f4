"""Type constraints: reading them, converting values as Terraform does, errors with the path inside the value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zplan.config import hcl
from zplan.config.convert import ConversionError, convert
from zplan.config.types import ANY, BOOL, NUMBER, STRING, Attribute, Collection, ObjectType, TupleType, Type, parse_type
from zplan.config.values import SetValue, to_text
from zplan.diags import DiagnosticError


def type_of(source: str) -> Type:
    return parse_type(hcl.parse_text(f"t = {source}", "types.zp.hcl").attributes["t"].expr)


def test_reads_every_constructor_and_the_legacy_forms():
    assert type_of("string") == STRING and type_of("number") == NUMBER and type_of("any") == ANY
    assert type_of("list") == Collection("list", ANY) and type_of("map") == Collection("map", ANY)
    assert type_of("set(list(bool))") == Collection("set", Collection("list", BOOL))
    assert type_of("tuple([string, number])") == TupleType((STRING, NUMBER))
    assert type_of("object({ a = string, b = optional(number, 3), c = optional(list(string)) })") == ObjectType(
        (("a", Attribute(STRING)), ("b", Attribute(NUMBER, True, 3)), ("c", Attribute(Collection("list", STRING), True, None)))
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("strng", '"strng" is not a type'),
        ('"number"', '"number" is in quotes'),  # Terraform 0.11's form, refused as Terraform refuses it
        ('list("string")', '"string" is in quotes'),
        ('"nonsense"', '"nonsense" is not a type'),  # its quotes shown once
        ("list(string, number)", "list() takes 1 argument, got 2"),
        ("optional(string)", "optional() is allowed only for an attribute inside object"),
        ("object(string)", "object() takes the attribute types in braces"),
        ("tuple(string)", "tuple() takes a list of element types"),
        ('object({ a = optional(number, "x") })', 'the default does not fit the type number: default: a number is required, got "x"'),
        ("frob(string)", 'unknown type constructor "frob"'),
    ],
)
def test_a_mistaken_type_is_an_error_at_its_line(source: str, message: str):
    with pytest.raises(DiagnosticError) as info:
        type_of(source)
    diag = info.value.diagnostics[0]
    assert message in diag.summary and str(diag.range).startswith("types.zp.hcl:1:")


def test_converts_as_terraform():
    cfg = type_of("object({ name = string, layers = list(number), lr = optional(number, 0.1), tags = optional(map(string), {}) })")
    given = {"name": 7, "layers": ["1", 2.5], "extra": "dropped"}
    assert convert(given, cfg, "var.cfg") == {"name": "7", "layers": [1, 2.5], "lr": 0.1, "tags": {}}
    assert convert({"name": "m", "layers": [], "lr": None}, cfg, "var.cfg")["lr"] == 0.1  # null takes the default
    assert convert("true", BOOL, "v") is True and convert(False, STRING, "v") == "false"
    assert convert("1", BOOL, "v") is True and convert("0", BOOL, "v") is False  # -var debug=1, as Terraform reads it
    assert convert(["b", "a", "b"], type_of("set(string)"), "v") == ["a", "b"]
    assert isinstance(convert(["b"], type_of("set(string)"), "v"), SetValue)
    assert convert(None, NUMBER, "v") is None


@pytest.mark.parametrize(
    ("type_source", "value", "message"),
    [
        ("object({ layers = list(number) })", {"layers": [1, "x"]}, 'var.v.layers[1]: a number is required, got "x"'),
        ("object({ a = string })", {}, 'var.v: attribute "a" is required'),
        ("map(number)", {"my key": True}, 'var.v["my key"]: a number is required, got bool true'),
        ("tuple([string, number])", ["a"], "var.v: a tuple of 2 elements is required, got 1"),
        ("list(string)", {"a": 1}, "var.v: a list is required, got object"),
        ("bool", "yes", 'var.v: a bool is required, got "yes"'),
        ("string", [1], "var.v: a string is required, got list"),
        ("number", True, "var.v: a number is required, got bool true"),
        ("object({ s = set(any) })", {"s": [1, [2]]}, "var.v.s: all elements must have the same type, got list, number"),
    ],
)
def test_a_mismatch_names_the_path_inside_the_value(type_source: str, value: Any, message: str):
    with pytest.raises(ConversionError) as info:
        convert(value, type_of(type_source), "var.v")
    assert str(info.value) == message


# -- properties ---------------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True)
primitives = st.sampled_from([STRING, NUMBER, BOOL])


def _compound(inner):
    attributes = st.dictionaries(names, st.tuples(inner, st.booleans()), max_size=3)
    return st.one_of(
        st.builds(Collection, st.sampled_from(["list", "set", "map"]), inner),
        st.builds(lambda items: TupleType(tuple(items)), st.lists(inner, max_size=3)),
        st.builds(lambda attrs: ObjectType(tuple((n, Attribute(t, opt)) for n, (t, opt) in attrs.items())), attributes),
    )


types = st.recursive(st.one_of(primitives, st.just(ANY)), _compound, max_leaves=6)


def values_of(type_: Type) -> st.SearchStrategy:
    """Values that fit ``type_`` exactly (optional attributes sometimes left out)."""
    if type_ == STRING:
        return st.text(max_size=5)
    if type_ == NUMBER:
        return st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False).filter(lambda f: not f.is_integer()))
    if type_ == BOOL:
        return st.booleans()
    if type_ == ANY:
        return st.one_of(st.integers(0, 9), st.text(max_size=3))
    if isinstance(type_, Collection):
        if type_.kind == "map":
            return st.dictionaries(names, values_of(type_.element), max_size=3)
        return st.lists(values_of(type_.element), max_size=3)
    if isinstance(type_, TupleType):
        return st.tuples(*(values_of(t) for t in type_.elements)).map(list)
    assert isinstance(type_, ObjectType)
    fields = {name: st.one_of(st.nothing() if not attr.optional else st.just(_MISSING), values_of(attr.type)) for name, attr in type_.attributes}
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not _MISSING})


_MISSING = object()


@st.composite
def typed_values(draw):
    type_ = draw(types)
    return type_, draw(values_of(type_))


@settings(max_examples=200, deadline=None)
@given(typed_values())
def test_a_fitting_value_converts_and_converting_again_changes_nothing(case):
    type_, value = case
    once = convert(value, type_, "var.v")
    assert convert(once, type_, "var.v") == once


def _as_text(value: Any, type_: Type) -> Any:
    """``value`` with every number and bool the type asks for written as text (as -var gives them)."""
    if type_ in (NUMBER, BOOL):
        return to_text(value)
    if isinstance(type_, Collection):
        if type_.kind == "map":
            return {k: _as_text(v, type_.element) for k, v in value.items()}
        return [_as_text(v, type_.element) for v in value]
    if isinstance(type_, TupleType):
        return [_as_text(v, t) for v, t in zip(value, type_.elements)]
    if isinstance(type_, ObjectType):
        kinds = dict(type_.attributes)
        return {k: _as_text(v, kinds[k].type) for k, v in value.items()}
    return value


@settings(max_examples=200, deadline=None)
@given(typed_values())
def test_numbers_and_bools_written_as_text_convert_to_the_same_value(case):
    type_, value = case
    assert convert(_as_text(value, type_), type_, "var.v") == convert(value, type_, "var.v")


@settings(max_examples=200, deadline=None)
@given(types)
def test_a_type_written_back_reads_as_the_same_type(type_):
    assert type_of(str(type_)) == type_


def test_a_quoted_type_is_told_to_lose_its_quotes():
    with pytest.raises(DiagnosticError) as info:
        type_of('"string"')
    assert info.value.diagnostics[0].detail == "remove the quotes: string"
