"""Part of the plan file's schema (`resilience.config`): the strict base every section uses, and
the retry section's `wait` strategies.

A `wait` is chosen by its `kind`; the other keys are the arguments of that strategy, named as in
code (`FullJitterBackoff`, tenacity's ``wait_<kind>``). Everything here is re-exported by
`resilience.config`, the module to import.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from resilience.durations import Duration, PositiveDuration


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    RENAMED: ClassVar[dict[str, str]] = {}
    """Old option name → new one: a file using the old name is refused with the new one."""

    @model_validator(mode="before")
    @classmethod
    def _renamed_options(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for old, new in cls.RENAMED.items():
                if old in data:
                    raise ValueError(f"{old!r} was renamed {new!r} (same meaning)")
        return data


class WaitFixed(StrictModel):
    """`tenacity.wait_fixed(wait)`: the same pause before every retry."""

    kind: Literal["fixed"]
    wait: Duration


class WaitNone(StrictModel):
    """`tenacity.wait_none()`: retry at once."""

    kind: Literal["none"]


class WaitRandom(StrictModel):
    """`tenacity.wait_random(min, max)`: uniform between min and max."""

    kind: Literal["random"]
    min: Duration | None = None
    max: Duration | None = None


class WaitIncrementing(StrictModel):
    """`tenacity.wait_incrementing(start, increment, max)`: linear backoff."""

    kind: Literal["incrementing"]
    start: Duration | None = None
    increment: Duration | None = None
    max: Duration | None = None


class WaitExponential(StrictModel):
    """`tenacity.wait_exponential(multiplier, max, exp_base, min)`: no jitter."""

    kind: Literal["exponential"]
    multiplier: Annotated[float, Field(gt=0)] | None = None
    max: Duration | None = None
    exp_base: Annotated[float, Field(gt=1)] | None = None
    min: Duration | None = None


class WaitRandomExponential(StrictModel):
    """`tenacity.wait_random_exponential(...)`: full jitter, uniform in [min, exponential cap]."""

    kind: Literal["random_exponential"]
    multiplier: Annotated[float, Field(gt=0)] | None = None
    max: Duration | None = None
    exp_base: Annotated[float, Field(gt=1)] | None = None
    min: Duration | None = None


class WaitExponentialJitter(StrictModel):
    """`tenacity.wait_exponential_jitter(initial, max, exp_base, jitter)`: exponential + jitter."""

    kind: Literal["exponential_jitter"]
    initial: Duration | None = None
    max: Duration | None = None
    exp_base: Annotated[float, Field(gt=1)] | None = None
    jitter: Duration | None = None


class WaitFullJitter(StrictModel):
    """`resilience.retry.FullJitterBackoff(initial, max, multiplier)`: the library default.

    Attempt n waits uniformly in [0, min(max, initial × multiplier^(n−1))].
    """

    kind: Literal["full_jitter"]
    initial: PositiveDuration | None = None
    max: PositiveDuration | None = None
    multiplier: Annotated[float, Field(ge=1)] | None = None


WaitConfig: TypeAlias = Annotated[
    WaitFullJitter
    | WaitFixed
    | WaitNone
    | WaitRandom
    | WaitIncrementing
    | WaitExponential
    | WaitRandomExponential
    | WaitExponentialJitter,
    Field(discriminator="kind"),
]
"""A wait strategy chosen by `kind`; the other keys are that function's arguments.

`full_jitter` is the library default (`FullJitterBackoff`); the others are tenacity's `wait_<kind>`.
"""

WAIT_KINDS = frozenset(
    {
        "full_jitter",
        "fixed",
        "none",
        "random",
        "incrementing",
        "exponential",
        "random_exponential",
        "exponential_jitter",
    }
)
