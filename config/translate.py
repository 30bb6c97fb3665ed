"""pydantic validation errors -> ConfigIssues in the project's wording."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from config.issues import (
    ConfigIssue,
    range_text,
    rm_command,
    set_command,
    show,
    unknown_key_issue,
)


def parse(
    model: type[BaseModel], raw: Any, prefix: Sequence[str], issues: list[ConfigIssue]
) -> Any:
    """`raw` validated as `model`, or None with its problems added to `issues`."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        issues.extend(translate(e, prefix, model) for e in error.errors())
        return None


def _unwrap(annotation: Any) -> Any:
    """The model or container type inside Optional[...] / Annotated[...]."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        return _unwrap(inner[0]) if len(inner) == 1 else annotation
    return annotation


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that holds the key at `loc` (whose last element is the key)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = _unwrap(fields[part].annotation)
        elif get_origin(current) in (tuple, list):
            current = _unwrap(get_args(current)[0])
        elif get_origin(current) is dict:
            current = _unwrap(get_args(current)[1])
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field(model: type[BaseModel] | None, key: str | int) -> Any:
    if model is None:
        return None
    return next(
        (f for n, f in model.model_fields.items() if (f.alias or n) == key),
        None,
    )


def _default(model: type[BaseModel] | None, key: str | int) -> Any:
    field = _field(model, key)
    if field is None or field.is_required():
        return None
    default = field.get_default(call_default_factory=True)
    return default if isinstance(default, str | int | float | bool) else None


def _bounds(model: type[BaseModel] | None, key: str | int) -> tuple[int | None, int | None]:
    field = _field(model, key)
    low = high = None
    for meta in field.metadata if field is not None else ():
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    return low, high


def _whole_number(model: type[BaseModel] | None, key: str | int) -> str:
    low, high = _bounds(model, key)
    return "a whole number" + (f" {range_text(low, high)}" if (low, high) != (None, None) else "")


def _kind(model: type[BaseModel] | None, key: str | int) -> str:
    """What a field takes, for `is required` messages."""
    field = _field(model, key)
    if field is not None and field.annotation is int:
        return _whole_number(model, key)
    if field is not None and field.annotation is bool:
        return "true or false"
    if field is not None and get_origin(field.annotation) is Literal:
        return "one of " + ", ".join(map(str, get_args(field.annotation)))
    return "a value"


def _join(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def translate(
    error: Mapping[str, Any], prefix: Sequence[str], model: type[BaseModel]
) -> ConfigIssue:
    loc = tuple(error["loc"])
    path = _join((*prefix, *loc))
    value = error.get("input")
    kind = error["type"]
    holder = _model_at(model, loc) if loc else None
    key = loc[-1] if loc else ""
    fix_value = _default(holder, key)
    if kind == "extra_forbidden" and holder is not None:
        return unknown_key_issue(
            path, str(key), [f.alias or n for n, f in holder.model_fields.items()]
        )
    if kind == "missing":
        field = _field(holder, key)
        choices = get_args(field.annotation) if field is not None else ()
        literal = field is not None and get_origin(field.annotation) is Literal
        return ConfigIssue(
            path=path,
            message=f"is required (allowed: {_kind(holder, key)})",
            fix=set_command(path, choices[0] if literal else "<value>"),
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return ConfigIssue(
            path=path,
            message=f"{show(value)} is not a map (allowed: a map of keys to values)",
            fix=rm_command(path) + " (then set its keys)",
        )
    if kind in ("tuple_type", "list_type"):
        return ConfigIssue(
            path=path,
            message=f"{show(value)} is not a list (allowed: a list of values)",
            fix=rm_command(path) + " (then set its items)",
        )
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        message = f"{show(value)} is not allowed (allowed: {', '.join(allowed)})"
        fix_value = fix_value if fix_value is not None else (allowed[0] if allowed else None)
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(holder, key)
        message = f"{show(value)} is out of range (allowed: {range_text(low, high)})"
        if fix_value is None:
            fix_value = low if kind.startswith("greater") else high
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        message = f"{show(value)} is not a whole number (allowed: {_whole_number(holder, key)})"
    elif kind in ("bool_type", "bool_parsing"):
        message = f"{show(value)} is not a boolean (allowed: true, false)"
        fix_value = fix_value if fix_value is not None else "false"
    elif kind in ("string_type", "str_type"):
        message = f"{show(value)} is not a string (allowed: text)"
    else:
        message = f"{show(value)} is not valid ({error['msg']})"
    return ConfigIssue(
        path=path,
        message=message,
        fix=set_command(path, fix_value if fix_value is not None else "<value>"),
    )
