"""Readiness from the circuit breakers of critical policies.

`Readiness` is a hook: it remembers every policy it binds to (weakly) and adds nothing to the call
path (its `bind` returns no handler). A service is *not ready* while the breaker of a policy marked
``critical`` is open or forced open: a load balancer then sends traffic to replicas whose critical
dependency still answers. A half-open breaker counts as ready, since it is already probing, and so
does an open one past its `open_duration` (the policy's `breaker_state` reads the breaker's
`effective_state`): with no traffic reaching this replica, nothing else would ever move it on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from exporters._watch import OPEN_STATES, PolicyWatch
from resilience import PolicyInfo, add_hook
from resilience.events import EventHandler, global_hooks


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    """Whether the service is ready, and which critical policies' breakers are open."""

    ready: bool
    open_critical: tuple[str, ...]

    def text(self) -> str:
        """One line for the body of a probe response."""
        if self.ready:
            return "ready"
        return "not ready: circuit open for critical " + ", ".join(self.open_critical)


class Readiness:
    """A hook that tracks critical policies and reports readiness from their breakers.

    Added in 0.1.0.
    """

    def __init__(self) -> None:
        self._watch = PolicyWatch()

    def bind(self, policy: PolicyInfo) -> EventHandler | None:
        """Remember `policy` when it is critical; no per-call handler."""
        if policy.critical:
            self._watch.add(policy)
        return None

    def check(self) -> ReadinessReport:
        """Read every critical breaker now."""
        open_critical = tuple(v.name for v in self._watch.critical() if v.state in OPEN_STATES)
        return ReadinessReport(ready=not open_critical, open_critical=open_critical)


_default: Readiness | None = None
_default_lock = threading.Lock()


def default_readiness() -> Readiness:
    """The process-wide `Readiness` hook, installed with `resilience.add_hook` on first use."""
    global _default
    with _default_lock:
        if _default is None or _default not in global_hooks():
            _default = Readiness()
            add_hook(_default)
        return _default
