"""`load_plan`: a plan's mechanism table turned into ready `Policy` objects, reloadable in place.

::

    plan = resilience.load_plan("plan.yaml")   # validates everything; builds nothing on error
    llm = plan.policy("llm-primary", fallback=call_secondary)

    @llm
    async def complete(prompt: str) -> str: ...

    plan.reload("plan.yaml")                          # same handles, new configuration

`plan.policy(name)` returns the same `Policy` for the same name. `reload` validates and builds the
new configuration completely, then swaps every policy's layers at once (no await in between):
calls already running finish under the configuration they started with, new calls use the new
one. A mechanism whose settings did not change is kept as is (a breaker keeps its state, a rate
limiter its tokens, a retry its budget, a hedge its latency samples); a breaker whose window
(`window_type`, `window_size`) did not change keeps its state and window and takes every other new
setting through `CircuitBreaker.reconfigure`. A bad file raises `PlanError` and leaves the old
configuration in force.

Added in 0.1.0.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import tenacity

from resilience._core import CallContext, Layer, Step, SyncStep, compose_sync
from resilience._errors import ConfigError
from resilience._planfile import PlanError, PlanSource, ReadPlan, read_plan
from resilience.breaker import CircuitBreaker, CircuitBreakerSettings
from resilience.bulkhead import Bulkhead
from resilience.config import (
    CircuitBreakerConfig,
    ExponentialOpenDuration,
    FallbackConfig,
    PlanFile,
    PolicyConfig,
    RetryConfig,
    StorageConfig,
    WaitFullJitter,
    resolve_dotted_path,
)
from resilience.fallback import Fallback
from resilience.hedge import Hedge
from resilience.policy import Policy
from resilience.ratelimiter import RateLimiter
from resilience.retry import FullJitterBackoff, Retry, RetryBudget
from resilience.timeout import Timeout

__all__ = ["PlanError", "PlanPolicy", "PlanRegistry", "load_plan"]

Handler = Callable[..., Any]


# ------------------------------------------------------------------------ config → mechanisms


def _classes(paths: list[str]) -> tuple[type[BaseException], ...]:
    return tuple(resolve_dotted_path(p) for p in paths)  # type: ignore[misc]


def _function(path: str | None) -> Any:
    return None if path is None else resolve_dotted_path(path)


def _set(section: Any) -> dict[str, Any]:
    """The options set in a section (None means "library default" and is left out)."""
    return {
        f: getattr(section, f) for f in section.model_fields_set if getattr(section, f) is not None
    }


_JITTER_HAS_MULTIPLIER = (
    "multiplier" in inspect.signature(tenacity.wait_exponential_jitter).parameters
)


def _wait(config: Any) -> Any:
    options = _set(config)
    kind = options.pop("kind")
    if isinstance(config, WaitFullJitter):
        return FullJitterBackoff(**options)
    if kind == "exponential_jitter" and "initial" in options and _JITTER_HAS_MULTIPLIER:
        # tenacity ≥ 9.1 renamed `initial` to `multiplier` (same meaning) and warns on `initial`.
        options["multiplier"] = options.pop("initial")
    return getattr(tenacity, f"wait_{kind}")(**options)


def _open_duration(config: ExponentialOpenDuration) -> Callable[[int], float]:
    initial, multiplier, cap = config.initial, config.multiplier, config.max

    def open_duration(consecutive_opens: int) -> float:
        # Exponent capped so a long outage never overflows the float.
        return min(cap, initial * multiplier ** min(max(consecutive_opens - 1, 0), 1000))

    open_duration.__name__ = f"exponential(initial={initial:g}, x{multiplier:g}, max={cap:g})"
    return open_duration


def _breaker_options(config: CircuitBreakerConfig) -> dict[str, Any]:
    """The `CircuitBreaker` keywords a section sets (library defaults for the rest)."""
    options = _set(config)
    for key in ("record_on", "ignore_on"):
        if key in options:
            options[key] = _classes(options[key])
    if "failure_if_result" in options:
        options["failure_if_result"] = _function(options["failure_if_result"])
    if isinstance(options.get("open_duration"), ExponentialOpenDuration):
        options["open_duration"] = _open_duration(options["open_duration"])
    return options


def build_breaker(name: str, config: CircuitBreakerConfig, storage: Any = None) -> CircuitBreaker:
    """`CircuitBreaker(name, ...)` from its section (`storage`: the plan's shared state)."""
    return CircuitBreaker(name, storage=storage, **_breaker_options(config))


def build_retry(config: RetryConfig) -> Retry:
    """`Retry(...)` from its section."""
    options = _set(config)
    if "wait" in options:
        options["wait"] = _wait(options["wait"])
    if "retry_on" in options:
        options["retry_on"] = _classes(options["retry_on"])
    if "retry_if_result" in options:
        options["retry_if_result"] = _function(options["retry_if_result"])
    if "budget" in options:
        options["budget"] = RetryBudget(**_set(options["budget"]))
    return Retry(**options)


def build_fallback(config: FallbackConfig | None, handler: Handler | None) -> Layer:
    """`Fallback(handler, on, if_result)`: the handler from code wins over the file's."""
    options = _set(config) if config is not None else {}
    file_handler = options.pop("handler", None)
    if "on" in options:
        options["on"] = _classes(options["on"])
    if "if_result" in options:
        options["if_result"] = _function(options["if_result"])
    chosen = handler if handler is not None else _function(file_handler)
    return Fallback(chosen, **options)


_BUILDERS: dict[str, Callable[[str, Any], Layer]] = {
    "circuit_breaker": build_breaker,
    "retry": lambda _name, c: build_retry(c),
    "bulkhead": lambda _name, c: Bulkhead(**_set(c)),
    "rate_limiter": lambda _name, c: RateLimiter(**_set(c)),
    "hedge": lambda _name, c: Hedge(**_set(c)),
}


def _build_shared(section: str, name: str, config: Any, storage: Any) -> Layer:
    """A breaker or rate limiter sharing its state through the plan's `storage` section."""
    if section == "circuit_breaker":
        return build_breaker(name, config, storage)
    return RateLimiter(storage=storage, key=name, **_set(config))


def build_storage(config: StorageConfig | None) -> Any:
    """The plan's `storage` section as a `RedisStorage` (None without one)."""
    if config is None:
        return None
    try:
        from resilience.storage.redis import RedisStorage
    except ImportError as exc:
        raise _Problem("storage.redis", str(exc)) from None
    options = _set(config.redis)
    return RedisStorage(options.pop("url"), **options)


_SLOT = {
    "circuit_breaker": "breaker",
    "retry": "retry",
    "bulkhead": "bulkhead",
    "rate_limiter": "rate_limiter",
    "hedge": "hedge",
}
_WINDOW = ("window_type", "window_size")
# What `reconfigure` gives a kept breaker for a setting the new section leaves out: the default.
_BREAKER_DEFAULTS: dict[str, Any] = {
    key: parameter.default
    for key, parameter in inspect.signature(CircuitBreaker).parameters.items()
    if key in CircuitBreakerSettings.__optional_keys__
}


def _breaker_settings(
    old_config: CircuitBreakerConfig, config: CircuitBreakerConfig
) -> CircuitBreakerSettings | None:
    """What `reconfigure` must give a breaker built from `old_config` to follow `config`
    (validated), or None when the window changes and only a new breaker will do."""
    if any(getattr(old_config, k) != getattr(config, k) for k in _WINDOW):
        return None
    settings = {**_BREAKER_DEFAULTS, **_breaker_options(config)}
    for key in _WINDOW:
        settings.pop(key, None)
    return CircuitBreaker.check_settings(**settings)


class _Problem(Exception):
    """A mechanism that cannot be built: the field path and what went wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class _Built:
    """The layers of one policy built from one resolved configuration (not yet in a Policy).

    `needs_handler` is true when the plan declares a fallback without a handler and code gave
    none: such a policy is built only once `plan.policy(name, fallback=...)` supplies one.
    """

    def __init__(
        self,
        name: str,
        config: PolicyConfig,
        fallback: Handler | None,
        previous: PlanPolicy | None,
        storage: Any = None,
    ) -> None:
        self.config = config
        self.sections: dict[str, Any] = {}
        self.slots: dict[str, Any] = {"critical": bool(config.critical)}
        # A kept breaker and the settings it takes when this configuration is swapped in.
        self.reconfigure: tuple[CircuitBreaker, CircuitBreakerSettings] | None = None
        for section, builder in _BUILDERS.items():
            value = getattr(config, section)
            if value is None:
                continue
            self.sections[section] = value
            slot = _SLOT[section]
            old_layer = getattr(previous, slot, None) if previous is not None else None
            old_config = previous.sections.get(section) if previous is not None else None
            try:
                if old_layer is not None and old_config == value:
                    layer = old_layer  # unchanged: keep its state
                elif (
                    section == "circuit_breaker"
                    and isinstance(old_layer, CircuitBreaker)
                    and old_config is not None
                    and (settings := _breaker_settings(old_config, value)) is not None
                ):
                    # Kept with its state and window; reconfigured only when the plan is swapped
                    # in, so a reload that fails on another policy changes nothing.
                    layer = old_layer
                    self.reconfigure = (old_layer, settings)
                elif storage is not None and section in ("circuit_breaker", "rate_limiter"):
                    layer = _build_shared(section, name, value, storage)
                else:
                    layer = builder(name, value)
            except (ValueError, TypeError) as exc:
                raise _Problem(f"mechanisms.{name}.{section}", str(exc)) from None
            self.slots[slot] = layer
        if config.timeout is not None:
            self.slots["timeout"] = Timeout(config.timeout)
        if config.deadline is not None:
            self.slots["deadline"] = config.deadline
        self.needs_handler = (
            fallback is None and config.fallback is not None and config.fallback.handler is None
        )
        if (config.fallback is not None or fallback is not None) and not self.needs_handler:
            try:
                self.slots["fallback"] = build_fallback(config.fallback, fallback)
            except (ValueError, TypeError) as exc:
                raise _Problem(f"mechanisms.{name}.fallback", str(exc)) from None

    def check_handler(self, name: str) -> None:
        """Raise when the plan's fallback for `name` still has no handler."""
        if self.needs_handler:
            raise _Problem(
                f"mechanisms.{name}.fallback",
                f"no handler: pass plan.policy({name!r}, fallback=handler) "
                "or set fallback.handler in the file",
            )


# -------------------------------------------------------------------------------- the policy


class PlanPolicy(Policy):
    """A `Policy` built from a plan, whose configuration `PlanRegistry.reload` can swap in place.

    Functions it decorates look its pipeline up once per call, so a call that started keeps the
    layers it started with and the next call gets the new ones. Its `emitter` stays the same
    object across reloads (hooks stay bound).
    """

    def __init__(self, name: str, built: _Built, fallback: Handler | None) -> None:
        self.sections: dict[str, Any] = {}
        self.config = built.config
        self.fallback_handler = fallback
        self._sync_step: SyncStep[Any] | None = None
        self._sync_error: TypeError | None = None
        super().__init__(name, **built.slots)
        self._after_build(built)

    def _after_build(self, built: _Built) -> None:
        self.sections = built.sections
        self.config = built.config
        try:
            self._sync_step, self._sync_error = compose_sync(self.layers), None
        except TypeError as exc:
            self._sync_step, self._sync_error = None, exc

    def _swap(self, built: _Built) -> None:
        """Take the layers of `built`, keeping this policy's emitter (and the bound hooks)."""
        if built.reconfigure is not None:
            breaker, settings = built.reconfigure
            breaker.reconfigure(**settings)
        self._replace(**built.slots)
        self._after_build(built)

    def _dispatch(self, call: Any, ctx: CallContext) -> Any:
        return self._step(call, ctx)  # read per call: a reload applies to the next call

    def _dispatch_sync(self, call: Callable[[], Any], ctx: CallContext) -> Any:
        step = self._sync_step
        if step is None:
            raise self._sync_error or TypeError(f"policy {self.name!r} cannot run sync functions")
        return step(call, ctx)

    def _sync_for_decoration(self) -> SyncStep[Any]:
        if self._sync_error is not None:
            raise self._sync_error
        return self._dispatch_sync

    def _pipelines(self) -> tuple[Step[Any], Callable[[], SyncStep[Any]]]:
        """Decorated functions read the current configuration on every call."""
        return self._dispatch, self._sync_for_decoration


# ------------------------------------------------------------------------------ the registry


class PlanRegistry:
    """The policies of one plan, by name. Get one with `policy(name)`; swap all with `reload`."""

    def __init__(self, read: ReadPlan) -> None:
        self._lock = threading.Lock()  # policy() and reload() may come from several threads
        self._policies: dict[str, PlanPolicy] = {}
        try:
            # The plan's shared state (`RedisStorage`), or None without a `storage` section.
            self.storage: Any = build_storage(read.plan.storage)
        except _Problem as exc:
            raise PlanError(read.source, [(exc.path, exc.problem)]) from None
        self._install(read, self._build_all(read, {}, self.storage))

    def _install(self, read: ReadPlan, built: dict[str, _Built]) -> None:
        self._read = read
        self._built = built

    @staticmethod
    def _build_all(
        read: ReadPlan, live: dict[str, PlanPolicy], storage: Any = None
    ) -> dict[str, _Built]:
        """Build every policy's layers (validation of the whole plan before anything changes)."""
        built: dict[str, _Built] = {}
        problems: list[tuple[str, str]] = []
        for name, config in read.policies.items():
            current = live.get(name)
            handler = current.fallback_handler if current is not None else None
            try:
                built[name] = _Built(name, config, handler, current, storage)
                if current is not None:  # in use: it must be complete now
                    built[name].check_handler(name)
            except _Problem as exc:
                problems.append((exc.path, exc.problem))
        if problems:
            raise PlanError(read.source, problems)
        return built

    @property
    def source(self) -> str:
        """The path the plan was read from (or ``<plan mapping>``)."""
        return self._read.source

    @property
    def plan(self) -> PlanFile:
        """The validated plan file (header and mechanism table as written)."""
        return self._read.plan

    @property
    def system(self) -> str:
        """The plan's `system` name."""
        return self._read.plan.system

    def names(self) -> list[str]:
        """The policy names of the plan, sorted (`defaults` is not a policy)."""
        return sorted(self._read.policies)

    def __contains__(self, name: object) -> bool:
        return name in self._read.policies

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def config(self, name: str) -> PolicyConfig:
        """The resolved configuration of `name` (inheritance applied, `base` gone)."""
        self._check(name)
        return self._read.policies[name]

    def _check(self, name: str) -> None:
        if name not in self._read.policies:
            known = ", ".join(self.names()) or "none"
            raise KeyError(f"no policy {name!r} in plan {self.source}; known policies: {known}")

    def policy(self, name: str, *, fallback: Handler | None = None) -> PlanPolicy:
        """The `Policy` named `name`, built on first use; the same object on every later call.

        `fallback` supplies the fallback handler (the file cannot hold code). Raises `KeyError`
        listing the known names for an unknown one.
        """
        existing = self._policies.get(name)
        if existing is not None and (fallback is None or fallback is existing.fallback_handler):
            return existing
        with self._lock:
            self._check(name)
            existing = self._policies.get(name)
            if existing is not None:
                if fallback is not None and fallback is not existing.fallback_handler:
                    raise ConfigError(
                        f"policy {name!r} was already built with another fallback handler; ask "
                        "for it without fallback= or with the same handler"
                    )
                return existing
            try:
                built = self._built[name]
                if fallback is not None:
                    built = _Built(name, self._read.policies[name], fallback, None, self.storage)
                built.check_handler(name)
            except _Problem as exc:
                raise PlanError(self.source, [(exc.path, exc.problem)]) from None
            policy = PlanPolicy(name, built, fallback)
            self._policies[name] = policy
            return policy

    def reload(self, source: PlanSource | None = None) -> None:
        """Load `source` (default: the file this plan came from) and swap every policy's layers.

        All or nothing: on any problem `PlanError` is raised and the old configuration stays.
        A policy already in use cannot disappear from the plan.
        """
        if source is None:
            if self._read.path is None:
                raise ConfigError("reload: this plan came from a mapping; pass the new plan")
            source = self._read.path
        read = read_plan(source)
        with self._lock:
            gone = sorted(set(self._policies) - set(read.policies))
            if gone:
                raise PlanError(
                    read.source,
                    [(f"mechanisms.{n}", "missing, but the policy is in use") for n in gone],
                )
            if read.plan.storage != self._read.plan.storage:
                raise PlanError(
                    read.source,
                    [
                        (
                            "storage",
                            "cannot change on reload (breakers would lose their shared state); "
                            "restart",
                        )
                    ],
                )
            built = self._build_all(read, self._policies, self.storage)
            for name, policy in self._policies.items():
                policy._swap(built[name])
            self._install(read, built)

    async def aclose(self) -> None:
        """Stop sharing state: close the plan's storage, if it has one."""
        if self.storage is not None:
            await self.storage.aclose()

    def __repr__(self) -> str:
        return f"<PlanRegistry {self.system!r} from {self.source}: {', '.join(self.names())}>"


def load_plan(source: PlanSource) -> PlanRegistry:
    """Read a plan (YAML or JSON path, or a mapping), validate it completely, and return its
    policies. Raises `PlanError` (a `ConfigError`) naming the file, the field and what was
    expected; nothing is built when the plan is invalid. Added in 0.1.0.
    """
    return PlanRegistry(read_plan(source))
