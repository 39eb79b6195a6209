"""Part of the plan file's schema (`resilience.config`): the names a plan may give, of exception
classes and of functions the service registers, checked against `resilience.names.Names`.

Everything here is re-exported by `resilience.config`, the module to import.
"""

from __future__ import annotations

import re
from typing import Annotated, TypeAlias

from pydantic import AfterValidator, Field, ValidationInfo

from resilience.files import short_repr
from resilience.names import Names

NAMES = "names"
"""Validation-context key: the `resilience.names.Names` the plan's names must resolve against.

Without it only the names' spelling is checked (the planner validates what it writes that way).
"""

_DOTTED_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _check_path_format(value: str, what: str) -> None:
    if not _DOTTED_RE.match(value):
        raise ValueError(f"expected the name of {what}, got {short_repr(value)}")


def _names(info: ValidationInfo) -> Names | None:
    names = info.context.get(NAMES) if info.context else None
    return names if isinstance(names, Names) else None


def _exception_path(value: str, info: ValidationInfo) -> str:
    _check_path_format(value, "an exception class (aiohttp.ClientError, InventoryDown)")
    names = _names(info)
    if names is not None:
        names.exception(value)  # ValueError naming what to register
    return value


def _callable_path(value: str, info: ValidationInfo) -> str:
    _check_path_format(value, "a registered function (is_overloaded)")
    names = _names(info)
    if names is not None:
        names.function(value)
    return value


ExceptionPath: TypeAlias = Annotated[
    str,
    AfterValidator(_exception_path),
    Field(
        description="an exception class: built-in (TimeoutError), asyncio/aiohttp/httpx/requests "
        "(aiohttp.ClientError), or a name the service registers (InventoryDown)"
    ),
]
"""The name of an exception class (resolved by `resilience.names.Names`)."""

CallablePath: TypeAlias = Annotated[
    str,
    AfterValidator(_callable_path),
    Field(description="a function the service registers, e.g. is_overloaded"),
]
"""The name of a function the service registers (never imported from the file)."""

ExceptionList: TypeAlias = Annotated[list[ExceptionPath], Field(max_length=64)]
