"""Turning pydantic validation errors of a policy into messages that name the key path and
list what is allowed there (with a "did you mean" for typos)."""

from __future__ import annotations

import difflib
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from leadpilot.errors import PolicyError

__all__ = ["PathError", "policy_error"]


class PathError(ValueError):
    """A cross-reference error that knows its key path (re-raised as PolicyError)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def policy_error(exc: ValidationError, source: str, root: type[BaseModel]) -> PolicyError:
    """A ``PolicyError`` naming each failing key path of ``exc`` and what ``root`` (the policy
    file's model) allows there."""
    lines: list[str] = []
    first_path = ""
    for err in exc.errors():
        loc = tuple(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, PathError):
            path, message = ctx_error.path, str(ctx_error)
        else:
            path = _format_loc(loc)
            message = _describe(err, loc, root)
        first_path = first_path or path
        lines.append(f"{path or '(top level)'}: {message}")
    summary = "; ".join(lines[:5]) + (f" (and {len(lines) - 5} more)" if len(lines) > 5 else "")
    return PolicyError(
        f"{source}: invalid policy: {summary}",
        hint="Fix the key named above; examples/policy.yaml shows every key in use.",
        details={"path": first_path, "errors": lines},
    )


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = "in" if part == "in_" else str(part)
            out += f".{name}" if out else name
    return out


def _describe(err: Any, loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], root)
        name = str(loc[-1])
        guess = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        return f"unknown key {name!r}{hint}; allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return "this key is required"
    if kind == "literal_error":
        return f"got {err['input']!r}; allowed values: {err['ctx']['expected']}"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    return f"{msg} (got {err['input']!r})" if kind != "value_error" else msg


def _allowed_keys(loc: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    """The keys the model at ``loc`` accepts, found by walking ``root``'s type annotations."""
    ann: Any = root
    for part in loc:
        ann = _strip_optional(ann)
        origin = get_origin(ann)
        if origin in (list, tuple):
            ann = get_args(ann)[0]
        elif origin is dict:
            ann = get_args(ann)[1]
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            info = ann.model_fields.get("in_" if part == "in" else str(part))
            if info is None:
                return []
            ann = info.annotation
        else:
            return []
    ann = _strip_optional(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [f.alias or name for name, f in ann.model_fields.items()]
    return []


def _strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return args[0]
    return annotation
