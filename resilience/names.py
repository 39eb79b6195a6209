"""The names a plan file may use for exception classes and functions: what the service registers.

A plan is data: it never makes the program import a module or call a function of the file's
choosing. Where a plan names an exception class (`retry_on`, `record_on`, `ignore_on`,
fallback `on`) or a function (`retry_if_result`, `failure_if_result`, fallback `handler` and
`if_result`), the name is looked up, in this order, in:

1. the names given to `load_plan(path, names=...)`: a mapping ``{"InventoryDown":
   InventoryDown}`` or a list of classes and functions, each registered under its own name
   (``InventoryDown``) and its dotted path (``myservice.errors.InventoryDown``);
2. the names registered process-wide with `register` (``@resilience.register`` on a class or a
   function);
3. for exception classes only, a fixed safe set: the built-in exception classes
   (``TimeoutError``, ``ConnectionError``) and the exception classes at the top of `asyncio`,
   `aiohttp`, `httpx` and `requests` (``aiohttp.ClientError``, ``httpx.TransportError``) when
   those are installed.

Nothing is imported while a plan is read, except those four fixed libraries when a name under
them is used. A name found nowhere is a `PlanError` naming the field and listing the registered
names. Functions are never taken from the safe set: a plan cannot name `eval`, `exit` or
`os.system`.

Added in 0.1.0.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from resilience._errors import ConfigError

__all__ = [
    "SAFE_MODULES",
    "Names",
    "NamesArg",
    "register",
    "registered",
    "unregister",
]

SAFE_MODULES = ("asyncio", "aiohttp", "httpx", "requests")
"""Libraries whose top-level exception classes a plan may name without registering them."""

NamesArg = Mapping[str, object] | Iterable[object]
"""What `load_plan(names=...)` takes: name → object, or objects registered under their names."""

_T = TypeVar("_T")
_NAME_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SHOWN = 20  # registered names listed in an error message

_lock = threading.Lock()
_registered: dict[str, object] = {}


def _names_of(obj: object) -> list[str]:
    """The names `obj` is registered under: its `__name__` and its dotted path."""
    short = getattr(obj, "__name__", None)
    if not isinstance(short, str):
        raise ConfigError(
            f"names: {obj!r} has no __name__ to register it under; name it: names={{'name': obj}}"
        )
    names = [short]
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", short)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        names.append(f"{module}.{qualname}")
    return names


def _check_name(name: object, where: str = "names") -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(
            f"{where}: expected a name such as InventoryDown or myservice.errors.InventoryDown, "
            f"got {name!r}"
        )
    return name


def _table(names: NamesArg) -> dict[str, object]:
    table: dict[str, object] = {}
    if isinstance(names, Mapping):
        for name, obj in names.items():
            table[_check_name(name)] = obj
        return table
    if isinstance(names, str | bytes):
        raise ConfigError("names: expected a mapping or a list of classes and functions")
    for obj in names:
        for name in _names_of(obj):
            if table.get(name, obj) is not obj:
                raise ConfigError(
                    f"names: two objects are both named {name!r}; give them distinct names "
                    "with a mapping: names={'name': obj, ...}"
                )
            table[name] = obj
    return table


def register(obj: _T, /, name: str | None = None) -> _T:
    """Register a class or function for every plan of the process; returns it (a decorator).

    ``@resilience.register`` registers it under its name and dotted path; `name` registers it
    under that one name instead. Registering another object under a taken name raises
    `ConfigError`. Added in 0.1.0.
    """
    table = {_check_name(name, "register"): obj} if name is not None else _table([obj])
    with _lock:
        for key, value in table.items():
            if _registered.get(key, value) is not value:
                raise ConfigError(
                    f"register: {key!r} is already registered to {_registered[key]!r}; "
                    "unregister it first or choose another name"
                )
        _registered.update(table)
    return obj


def unregister(name: str) -> None:
    """Forget a name given to `register` (no error when it was not registered)."""
    with _lock:
        _registered.pop(name, None)


def registered() -> dict[str, object]:
    """A copy of the names registered process-wide."""
    with _lock:
        return dict(_registered)


# ------------------------------------------------------------------------------ the safe set


def _is_exception_class(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseException)


_BUILTIN_EXCEPTIONS: dict[str, type[BaseException]] = {
    name: obj for name, obj in vars(builtins).items() if _is_exception_class(obj)
}
_safe_cache: dict[str, dict[str, type[BaseException]] | None] = {}


def _safe_module(module: str) -> dict[str, type[BaseException]] | None:
    """The top-level exception classes of one of `SAFE_MODULES` (None: not installed)."""
    if module not in _safe_cache:
        try:
            # Only ever one of the four fixed names above, never a name from a file.
            loaded = importlib.import_module(module)
        except ImportError:
            _safe_cache[module] = None
        else:
            _safe_cache[module] = {
                name: obj
                for name, obj in vars(loaded).items()
                if not name.startswith("_") and _is_exception_class(obj)
            }
    return _safe_cache[module]


def _safe_exception(name: str) -> type[BaseException] | None:
    if "." not in name:
        return _BUILTIN_EXCEPTIONS.get(name)
    module, _, attr = name.partition(".")
    if module not in SAFE_MODULES:
        return None
    classes = _safe_module(module)
    return None if classes is None else classes.get(attr)


# ------------------------------------------------------------------------------ the lookup


class Names:
    """What one plan's names resolve to: its own names, then `registered()`, then the safe set.

    `stand_ins=True` is for checking a plan without the service's code (`reliability
    validate`): a name that is neither registered nor under a safe library resolves to a
    stand-in and is listed in `unregistered`; names under the safe libraries are still checked.
    """

    def __init__(self, names: NamesArg | None = None, *, stand_ins: bool = False) -> None:
        self._own = _table(names) if names is not None else {}
        self._stand_ins = stand_ins
        self.unregistered: list[str] = []

    def _find(self, name: str) -> object | None:
        if name in self._own:
            return self._own[name]
        with _lock:
            return _registered.get(name)

    def exception(self, name: str) -> type[BaseException]:
        """The exception class `name` stands for; `ValueError` saying what to do otherwise."""
        obj = self._find(name)
        if obj is None:
            obj = _safe_exception(name)
        if obj is None:
            if self._stand_in(name):
                return type(name.rpartition(".")[2], (Exception,), {})
            raise ValueError(self._unknown(name, "exception class"))
        if not _is_exception_class(obj):
            raise ValueError(f"expected an exception class, {name!r} is registered as {obj!r}")
        return obj  # type: ignore[return-value]

    def function(self, name: str) -> Callable[..., Any]:
        """The registered function `name` stands for; `ValueError` saying what to do otherwise."""
        obj = self._find(name)
        if obj is None:
            if self._stand_in(name):
                return _stand_in_function
            raise ValueError(self._unknown(name, "function"))
        if not callable(obj):
            raise ValueError(f"expected a function, {name!r} is registered as {obj!r}")
        return obj

    def _stand_in(self, name: str) -> bool:
        # Names under the safe libraries and built-in names are checked even so.
        if not self._stand_ins or name.partition(".")[0] in SAFE_MODULES or hasattr(builtins, name):
            return False
        if name not in self.unregistered:
            self.unregistered.append(name)
        return True

    def known(self) -> list[str]:
        """The names registered for this plan (its own and process-wide), sorted."""
        with _lock:
            return sorted({*self._own, *_registered})

    def _unknown(self, name: str, what: str) -> str:
        known = self.known()
        short = name.rpartition(".")[2]
        module = name.partition(".")[0]
        if "." in name and module in SAFE_MODULES and _safe_module(module) is None:
            reason = f"{module} is not installed"
        else:
            reason = f"no {what} is registered under {name!r}"
        candidates = [*known, *(_BUILTIN_EXCEPTIONS if what == "exception class" else ())]
        if what == "exception class" and module in SAFE_MODULES:
            classes = _safe_module(module) or {}
            candidates += [f"{module}.{n}" for n in classes]
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = ", ".join(known[:_SHOWN]) + (
            f", … {len(known) - _SHOWN} more" if len(known) > _SHOWN else ""
        )
        safe = (
            "; without registering, a plan may name built-in exceptions (TimeoutError) and the "
            "exception classes of asyncio, aiohttp, httpx and requests (aiohttp.ClientError)"
            if what == "exception class"
            else ""
        )
        return (
            f"{reason}{hint}; plans never import code: register it, "
            f"load_plan(..., names={{{name!r}: {short}}}) or @resilience.register on {short}; "
            f"registered: {listed or 'none'}{safe}"
        )


def _stand_in_function(*args: object, **kwargs: object) -> bool:
    """What an unregistered function name stands for while a plan is only checked."""
    return False
