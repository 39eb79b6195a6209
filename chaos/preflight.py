"""Checks before an experiment runs: what would otherwise fail only after it ran against a service.

Every URL is an http(s) URL with a host, the admin token of every injection action is set, the
journal can be written. A failure is a `PreflightError`, raised before anything is sent.
Added in 0.1.0.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from chaos.experiment import Action, Experiment, InjectionProvider, Probe
from resilience import ResilienceError

__all__ = ["PreflightError", "preflight"]


class PreflightError(ResilienceError):
    """The experiment cannot start (a bad URL, a missing token, an unwritable journal).

    Raised before anything is sent: nothing was probed, injected or rolled back.
    """


def _activities(experiment: Experiment) -> list[tuple[str, Probe | Action]]:
    """Every activity with its place in the file (``method[1]``)."""
    hypothesis = experiment.steady_state_hypothesis
    return [
        *(
            (f"steady-state-hypothesis.probes[{i}]", p)
            for i, p in enumerate(hypothesis.probes if hypothesis else [])
        ),
        *((f"method[{i}]", a) for i, a in enumerate(experiment.method)),
        *((f"rollbacks[{i}]", a) for i, a in enumerate(experiment.rollbacks)),
    ]


def _valid_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number or out of range
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok


def _check_journal(path: str | os.PathLike[str]) -> None:
    """Create and remove a temporary file beside the journal: it will be writable at the end."""
    target = Path(path)
    if target.is_dir():
        raise PreflightError(f"{target}: cannot write the journal: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        reason = (
            f"its directory {target.parent} does not exist"
            if not target.parent.exists()
            else exc.strerror or type(exc).__name__
        )
        raise PreflightError(f"{target}: cannot write the journal: {reason}") from None
    os.close(fd)
    os.unlink(tmp)


def preflight(
    experiment: Experiment,
    journal_path: str | os.PathLike[str] | None = None,
    source: str = "<experiment>",
) -> None:
    """Check, before anything is sent, what would otherwise fail only after the run.

    Every URL must be an http(s) URL with a host; the environment variable holding the admin
    token of every injection action (method and rollbacks) must be set; the journal's directory
    must accept a new file. Raises `PreflightError` naming the file, the field or the variable.
    """
    for where, activity in _activities(experiment):
        provider = activity.provider
        field = "admin_url" if isinstance(provider, InjectionProvider) else "url"
        url = getattr(provider, field, None)
        if url is not None and not _valid_url(url):
            raise PreflightError(
                f"{source}: {where}.provider.{field}: invalid URL {url!r}: "
                "expected http(s)://host:port"
            )
    needing: dict[str, list[str]] = {}
    for _, activity in _activities(experiment):
        if isinstance(activity.provider, InjectionProvider):
            needing.setdefault(activity.provider.token_env, []).append(activity.name)
    for variable, names in needing.items():
        if not os.environ.get(variable):
            raise PreflightError(
                f"${variable} is not set: the experiment's injection actions "
                f"({', '.join(dict.fromkeys(names))}) need the chaos admin token"
            )
    if journal_path is not None:
        _check_journal(journal_path)
