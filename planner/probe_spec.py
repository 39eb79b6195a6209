"""The `probe:` of an entry point in the system spec: where synthetic probes reach it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ProbeSpec"]


def _probe_path(value: str) -> str:
    if not value.startswith("/") or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError(f"expected a path starting with / and without spaces, got {value!r}")
    return value


ProbePath = Annotated[str, Field(min_length=1, max_length=512)]


class ProbeSpec(BaseModel):
    """Where synthetic probes reach an entry point (`reliability probes`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # as every spec model

    url: str = Field(min_length=1, max_length=2048)  # http(s)://host[:port][/prefix]
    health: ProbePath = "/healthz"
    readiness: ProbePath | None = "/readyz"
    routes: tuple[ProbePath, ...] = Field(default=(), max_length=32)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            port = parts.port  # raises on a bad port
        except ValueError:
            raise ValueError(f"expected an http(s) URL, got {value!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host[:port], got {value!r}")
        if parts.query or parts.fragment or any(ch.isspace() for ch in value) or port == 0:
            raise ValueError(f"expected http(s)://host[:port][/path] only, got {value!r}")
        return value.rstrip("/")

    @field_validator("health", "readiness")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else _probe_path(value)

    @field_validator("routes")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("routes must not repeat")
        return tuple(_probe_path(v) for v in value)
