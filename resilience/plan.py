"""`load_plan`: a plan's mechanism table turned into ready `Policy` objects, reloadable in place.

::

    # validates everything; builds nothing on error; imports nothing the file names
    plan = resilience.load_plan("plan.yaml", names={"BadPrompt": BadPrompt})
    llm = plan.policy("llm-primary", fallback=call_secondary)

    @llm
    async def complete(prompt: str) -> str: ...

    plan.reload("plan.yaml")                          # same handles, new configuration
    await plan.areload()                              # the same, read off the event loop

    # Chaos strategies (chaos.FaultInjection, ...) innermost, as in Policy(..., chaos=[...]):
    search = plan.policy("search", chaos=[FaultInjection(TimeoutError, enabled=False)])

`plan.policy(name)` returns the same `Policy` for the same name. `reload` validates and builds the
new configuration completely, then swaps every policy's layers at once (no await in between):
calls already running finish under the configuration they started with, new calls use the new
one. A mechanism whose settings did not change is kept as is; one whose settings changed is
resized in place, as resilience4j's `changeConfig` does: a breaker keeps its state and window
(`CircuitBreaker.reconfigure`; a new `window_size` keeps the most recent outcomes, a new
`window_type` starts an empty window), a bulkhead its calls in flight and its waiters
(`Bulkhead.resize`), a rate limiter its tokens (`RateLimiter.reconfigure`), a hedge its latency
samples (`Hedge.reconfigure`), a retry its budget's counts when the budget section is unchanged.
State starts afresh only when a mechanism's kind changes (a section removed and added again, a
rate limiter moved to another shared bucket `key`). A bad file raises `PlanError` and leaves the old
configuration in force, and so does a file still being written (sealed by `reliability plan`,
or changing between two reads) or one that drops a mechanism of a policy in use without saying
``null``; with a `storage` section, the live breakers stay the ones shared (new
breakers attach to the storage only once the new configuration is installed, and a plan that
fails to load starts no sync task).

Added in 0.1.0.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from resilience._core import CallContext, Layer, Step, SyncStep, compose_sync
from resilience._errors import ConfigError
from resilience._planbuild import Built, Handler, Problem, build_storage
from resilience._planfile import PlanError, PlanSource, ReadPlan, dropped_silently, read_plan
from resilience.config import PlanFile, PolicyConfig
from resilience.files import Limits
from resilience.names import Names, NamesArg
from resilience.perf import no_cyclic_gc
from resilience.policy import Policy, chaos_tuple

__all__ = ["PlanError", "PlanPolicy", "PlanRegistry", "load_plan"]


# -------------------------------------------------------------------------------- the policy


class PlanPolicy(Policy):
    """A `Policy` built from a plan, whose configuration `PlanRegistry.reload` can swap in place.

    Functions it decorates look its pipeline up once per call, so a call that started keeps the
    layers it started with and the next call gets the new ones. Its `emitter` stays the same
    object across reloads (hooks stay bound).
    """

    def __init__(self, name: str, built: Built, fallback: Handler | None) -> None:
        self.sections: dict[str, Any] = {}
        self.config = built.config
        self.fallback_handler = fallback
        self._sync_step: SyncStep[Any] | None = None
        self._sync_error: TypeError | None = None
        super().__init__(name, **built.slots)
        self._after_build(built)

    def _after_build(self, built: Built) -> None:
        self.sections = built.sections
        self.config = built.config
        try:
            self._sync_step, self._sync_error = compose_sync(self.layers), None
        except TypeError as exc:
            self._sync_step, self._sync_error = None, exc

    def _swap(self, built: Built) -> None:
        """Take the layers of `built`, keeping this policy's emitter (and the bound hooks)."""
        for change in built.changes:  # validated when built: resizing in place cannot fail
            change()
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

    def _dispatch_without_fallback(self, call: Any, ctx: CallContext) -> Any:
        return self._block_step(call, ctx)  # read per call, like `_dispatch`

    def _pipelines(self, *, fallback: bool = True) -> tuple[Step[Any], Callable[[], SyncStep[Any]]]:
        """Decorated functions read the current configuration on every call."""
        if not fallback:
            return self._dispatch_without_fallback, super()._pipelines(fallback=False)[1]
        return self._dispatch, self._sync_for_decoration


# ------------------------------------------------------------------------------ the registry


class PlanRegistry:
    """The policies of one plan, by name. Get one with `policy(name)`; swap all with `reload`."""

    def __init__(self, read: ReadPlan, limits: Limits | None = None) -> None:
        self._limits = limits
        self._lock = threading.Lock()  # policy() and reload() may come from several threads
        self._started = self._installed = 0  # reload tickets (see _ticket)
        self._policies: dict[str, PlanPolicy] = {}
        try:
            # The plan's shared state (`RedisStorage`), or None without a `storage` section.
            self.storage: Any = build_storage(read.plan.storage)
        except Problem as exc:
            raise PlanError(read.source, [(exc.path, exc.problem)]) from None
        with self._staged():  # built breakers share their state only once all of them built
            self._install(read, self._build_all(read, {}, self.storage))

    def _staged(self) -> AbstractContextManager[None]:
        """Breakers built inside attach to the storage only if the block succeeds (see
        `RedisStorage.staged_attach`): a failed load or reload leaves the live ones shared."""
        if self.storage is None:
            return contextlib.nullcontext()
        return self.storage.staged_attach()  # type: ignore[no-any-return]

    def _install(self, read: ReadPlan, built: dict[str, Built]) -> None:
        self._read = read
        self._built = built

    @staticmethod
    def _build_all(
        read: ReadPlan, live: dict[str, PlanPolicy], storage: Any = None
    ) -> dict[str, Built]:
        """Build every policy's layers (validation of the whole plan before anything changes)."""
        built: dict[str, Built] = {}
        problems: list[tuple[str, str]] = []
        for name, config in read.policies.items():
            current = live.get(name)
            handler = current.fallback_handler if current is not None else None
            chaos = current.chaos if current is not None else ()
            try:
                built[name] = Built(name, config, handler, current, storage, chaos, read.names)
                if current is not None:  # in use: it must be complete now
                    built[name].check_handler(name)
            except Problem as exc:
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

    def policy(
        self,
        name: str,
        *,
        fallback: Handler | None = None,
        chaos: Layer | Sequence[Layer] | None = None,
    ) -> PlanPolicy:
        """The `Policy` named `name`, built on first use; the same object on every later call.

        Code supplies what the file cannot hold: `fallback`, the fallback handler, and `chaos`,
        fault-injection strategies (e.g. `chaos.FaultInjection`) for the innermost slot, so
        every mechanism of the plan sees an injected fault as the dependency's own. Both stay
        through reloads. Asking again with other ones than the policy was built with raises
        `ConfigError`; asking without them returns the policy as built. Raises `KeyError`
        listing the known names for an unknown one.
        """
        strategies = chaos_tuple(name, chaos)  # checked before anything is built
        existing = self._policies.get(name)
        if existing is not None and _same_code(existing, fallback, strategies):
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
                if not _same_code(existing, None, strategies):
                    raise ConfigError(
                        f"policy {name!r} was already built with other chaos strategies; ask "
                        "for it without chaos= or with the same strategies"
                    )
                return existing
            with self._staged():
                try:
                    built = self._built[name]
                    if fallback is not None or strategies:
                        # The mechanisms built with the plan, with the code's fallback and chaos:
                        # no second breaker of the same name for the gauges to confuse.
                        config = self._read.policies[name]
                        built = Built(
                            name,
                            config,
                            fallback,
                            built,
                            self.storage,
                            strategies,
                            self._read.names,
                        )
                    built.check_handler(name)
                except Problem as exc:
                    raise PlanError(self.source, [(exc.path, exc.problem)]) from None
                policy = PlanPolicy(name, built, fallback)
            self._policies[name] = policy
            return policy

    def reload(self, source: PlanSource | None = None) -> None:
        """Load `source` (default: the file this plan came from) and swap every policy's layers.

        All or nothing: on any problem `PlanError` is raised and the old configuration stays.
        The plan's names (`load_plan(names=...)`) resolve the new file's names too. A policy
        already in use cannot disappear from the plan, nor lose a mechanism unless the file
        switches it off explicitly (``circuit_breaker: null``): a file cut short loses its end.
        From a coroutine, use `areload`: this reads and validates on the calling thread.
        """
        ticket = self._ticket()
        self._apply(read_plan(self._reload_source(source), self._read.names, self._limits), ticket)

    async def areload(self, source: PlanSource | None = None) -> None:
        """`reload`, reading and validating the file in a worker thread (`asyncio.to_thread`)
        so the event loop keeps serving calls; the swap itself happens on the loop, at once.
        Added in 0.1.0."""
        ticket = self._ticket()
        read = await asyncio.to_thread(
            read_plan, self._reload_source(source), self._read.names, self._limits
        )
        self._apply(read, ticket)

    def _ticket(self) -> int:
        """The order of a reload that starts now: a slower, older read never replaces the plan
        a newer reload already installed."""
        with self._lock:
            self._started += 1
            return self._started

    def _reload_source(self, source: PlanSource | None) -> PlanSource:
        if source is not None:
            return source
        if self._read.path is None:
            raise ConfigError("reload: this plan came from a mapping; pass the new plan")
        return self._read.path

    def _apply(self, read: ReadPlan, ticket: int) -> None:
        """Swap in a validated plan (all or nothing), under the lock."""
        with self._lock:
            if ticket < self._installed:
                return  # a reload that started later is in force: this read is older
            gone = sorted(set(self._policies) - set(read.policies))
            if gone:
                raise PlanError(
                    read.source,
                    [(f"mechanisms.{n}", "missing, but the policy is in use") for n in gone],
                )
            dropped = [
                problem
                for name in sorted(self._policies)
                for problem in dropped_silently(read, name, self._read.policies[name])
            ]
            if dropped:
                raise PlanError(read.source, dropped)
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
            # New breakers replace the live ones in the storage only once the plan is swapped in.
            with self._staged():
                built = self._build_all(read, self._policies, self.storage)
                for name, policy in self._policies.items():
                    policy._swap(built[name])
                self._install(read, built)
                self._installed = ticket

    async def aclose(self) -> None:
        """Stop sharing state: close the plan's storage, if it has one."""
        if self.storage is not None:
            await self.storage.aclose()

    def __repr__(self) -> str:
        return f"<PlanRegistry {self.system!r} from {self.source}: {', '.join(self.names())}>"


def _same_code(policy: PlanPolicy, fallback: Handler | None, chaos: tuple[Layer, ...]) -> bool:
    """Whether asking for `policy` with these (None/empty: not given) matches how it was built."""
    if fallback is not None and fallback is not policy.fallback_handler:
        return False
    built = policy.chaos
    if not chaos:
        return True
    return len(chaos) == len(built) and all(a is b for a, b in zip(chaos, built, strict=True))


def load_plan(
    source: PlanSource, names: NamesArg | Names | None = None, *, limits: Limits | None = None
) -> PlanRegistry:
    """Read a plan (YAML or JSON path, or a mapping), validate it completely, and return its
    policies. Raises `PlanError` (a `ConfigError`) naming the file, the field and what was
    expected; nothing is built when the plan is invalid. Added in 0.1.0.

    `names` are the exception classes and functions the file may name, as a mapping
    (``{"InventoryDown": InventoryDown, "is_stale": is_stale}``) or a list of them (each under
    its name and its dotted path); with `resilience.register`'s and the safe set, they are all
    a file can reach: nothing is imported (see `resilience.names`). `limits` bound the file
    (`resilience.files.Limits`; default: 64 MiB, from ``RELIABILITY_MAX_FILE_BYTES`` if set).
    `names` and `limits` added in 0.1.0.
    """
    lookup = names if isinstance(names, Names) else Names(names)
    # A large plan makes millions of small objects at once (26,000 policies: 7.8 s CPU with the
    # cyclic collector scanning them again and again, 2.8 s with it paused)
    with no_cyclic_gc():
        return PlanRegistry(read_plan(source, lookup, limits), limits)
