"""reliability-os chaos: fault injection through the resilience pipeline, and experiments that
check the plan's mechanisms contain the failures it predicts.

- `FaultInjection`, `LatencyInjection`, `OutcomeInjection`, `BehaviourInjection`: strategies for a
  `Policy`'s ``chaos`` slot (``plan.policy(name, chaos=[...])`` for a policy loaded from a plan,
  or `inject` around its function); off unless enabled.
- `chaos.admin`: an aiohttp endpoint that switches them per policy at runtime (token-protected).
- `chaos.experiment`, `chaos.runner`, `chaos.generate`, `chaos.ctk`: experiment files, the runner,
  experiments generated from a plan, and the Chaos Toolkit export (``reliability chaos ...``).
  An experiment file never decides where requests or the admin token go: `chaos.hosts` (the
  hosts the runner allows) and the runner's token variable do.
"""

from chaos.experiment import Experiment, ExperimentError, load_experiment
from chaos.injection import (
    BehaviourInjection,
    ChaosRegistry,
    FaultInjection,
    Injection,
    LatencyInjection,
    OutcomeInjection,
    inject,
    registry,
)

__all__ = [
    "BehaviourInjection",
    "ChaosRegistry",
    "Experiment",
    "ExperimentError",
    "FaultInjection",
    "Injection",
    "LatencyInjection",
    "OutcomeInjection",
    "inject",
    "load_experiment",
    "registry",
]
