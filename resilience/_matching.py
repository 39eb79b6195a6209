"""`ExceptionFilter`: which exceptions a mechanism acts on, as `Retry` and `Fallback` take it.

Either exception classes (one, or a tuple) or a predicate of the exception. Both mechanisms parse,
match and describe it the same way; only the classes they allow and the field name differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from resilience._errors import ConfigError

ExcTypes: TypeAlias = tuple[type[BaseException], ...]
ExceptionSpec: TypeAlias = type[BaseException] | ExcTypes | Callable[[BaseException], bool]
"""Exception classes, or a predicate of the exception."""


class ExceptionFilter:
    """Parsed `ExceptionSpec`: call it with an exception to know whether it matches.

    `spec` is the normalised setting (a tuple of classes, or the predicate); `types` is the tuple
    of classes or None for a predicate. `ConfigError` names `field` and what was `expected`.
    """

    __slots__ = ("predicate", "spec", "types")

    def __init__(
        self,
        spec: ExceptionSpec,
        field: str,
        *,
        base: type[BaseException] = BaseException,
        expected: str = "exception classes",
    ) -> None:
        if isinstance(spec, type) and issubclass(spec, BaseException):
            spec = (spec,)
        self.types: ExcTypes | None
        self.predicate: Callable[[BaseException], bool] | None
        if isinstance(spec, tuple) and all(
            isinstance(t, type) and issubclass(t, base) for t in spec
        ):
            self.types, self.predicate = spec, None
        elif callable(spec) and not isinstance(spec, type):
            self.types, self.predicate = None, spec
        else:
            raise ConfigError(f"{field}: expected {expected} or a predicate, got {spec!r}")
        self.spec: ExceptionSpec = spec

    def __call__(self, exc: BaseException) -> bool:
        types = self.types
        if types is not None:
            return isinstance(exc, types)
        assert self.predicate is not None
        return bool(self.predicate(exc))

    def describe(self) -> str:
        """``(ConnectionError, TimeoutError)``, or the predicate's name."""
        if self.types is not None:
            return "(" + ", ".join(t.__name__ for t in self.types) + ")"
        return str(getattr(self.predicate, "__name__", "predicate"))
