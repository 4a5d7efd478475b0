"""Parameters are checked against their declared types before anything runs."""

from __future__ import annotations

import pytest

from shipyard.errors import InvalidParameter
from shipyard.projects import EntryPoint
from shipyard.projects._params import format_command, parse_assignments, resolve_params

ENTRY = EntryPoint.model_validate({
    "command": "python train.py --lr {lr} --epochs {epochs} --name {name} ${HOME} {unknown}",
    "parameters": {
        "lr": {"type": "float", "default": 0.1, "min": 0, "max": 1},
        "epochs": {"type": "int", "default": 3},
        "name": {"type": "string", "choices": ["a b", "c"], "default": "c"},
        "data": {"type": "path", "default": "data/x.csv"},
        "where": {"type": "uri", "default": "s3://bucket/key"},
    },
})  # fmt: skip


def test_defaults_and_given_values_are_normalised() -> None:
    params = resolve_params(ENTRY, {"epochs": " 7 ", "name": "a b"}, "main")
    assert params == {
        "lr": "0.1", "epochs": "7", "name": "a b", "data": "data/x.csv", "where": "s3://bucket/key",
    }  # fmt: skip


def test_every_problem_is_named_at_once() -> None:
    needs = EntryPoint.model_validate(
        {
            "command": "x",
            "parameters": {"seed": {"type": "int"}, **ENTRY.model_dump()["parameters"]},
        }
    )
    with pytest.raises(InvalidParameter) as info:
        resolve_params(needs, {"lr": "2", "epochs": "3.5", "name": "d", "bogus": "1"}, "train")
    message = info.value.message
    assert "entry point 'train'" in message
    assert "unknown 'bogus'" in message
    assert "'seed' (int) has no default and was not given" in message
    assert "'lr' must be <= 1, got 2" in message
    assert "'epochs' must be an int, got '3.5'" in message
    assert "'name' must be one of a b, c, got 'd'" in message


@pytest.mark.parametrize("value", ["nan", "inf", "abc", ""])
def test_floats_must_be_finite_numbers(value: str) -> None:
    with pytest.raises(InvalidParameter, match="'lr' must be a"):
        resolve_params(ENTRY, {"lr": value}, "main")


def test_empty_path_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="'data' must be a non-empty path"):
        resolve_params(ENTRY, {"data": " "}, "main")


def test_command_is_filled_and_quoted_leaving_other_braces() -> None:
    params = resolve_params(ENTRY, {"name": "a b"}, "main")
    command = format_command(ENTRY, params)
    assert command == "python train.py --lr 0.1 --epochs 3 --name 'a b' ${HOME} {unknown}"


def test_assignments() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(InvalidParameter, match="'oops' is not in the form key=value"):
        parse_assignments(["oops"])
