"""Checks before an experiment runs: what would otherwise fail only after it ran against a service.

Every URL is an http(s) URL with a host that the runner allows (`chaos.hosts.AllowedHosts`: the
command line's ``--allow-host``, loopback by default), every injection action switches through one
admin URL host (the only one the token is sent to), the admin token is set, the journal can be
written. A failure is a `PreflightError`, raised before anything is sent. Added in 0.1.0.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from chaos.admin import TOKEN_ENV
from chaos.experiment import Action, Experiment, InjectionProvider, Probe
from chaos.hosts import AllowedHosts, url_origin
from resilience import ResilienceError

__all__ = ["PreflightError", "admin_origin", "preflight"]


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


def _origin_text(url: str) -> str:
    origin = url_origin(url)
    if origin is None:
        return url
    host, port = origin
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _urls(experiment: Experiment) -> list[tuple[str, str]]:
    """Every URL the experiment would send a request to, with its field's place in the file."""
    found = []
    for where, activity in _activities(experiment):
        provider = activity.provider
        field = "admin_url" if isinstance(provider, InjectionProvider) else "url"
        url = getattr(provider, field, None)
        if url is not None:
            found.append((f"{where}.provider.{field}", url))
    return found


def admin_origin(experiment: Experiment) -> str | None:
    """``host:port`` of the experiment's admin URL (the only place the token goes), if any."""
    for _, activity in _activities(experiment):
        if isinstance(activity.provider, InjectionProvider):
            return _origin_text(activity.provider.admin_url)
    return None


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
    *,
    allowed: AllowedHosts | None = None,
    token_env: str = TOKEN_ENV,
) -> None:
    """Check, before anything is sent, what would otherwise fail only after the run.

    Every URL must be an http(s) URL whose host (and port) `allowed` allows (default: loopback);
    every injection action (method and rollbacks) must switch through the same admin host, and
    `token_env` must hold the admin token; the journal's directory must accept a new file.
    Raises `PreflightError` naming the file, the field or the variable.
    """
    hosts = allowed if allowed is not None else AllowedHosts.of()
    for field, url in _urls(experiment):
        if not _valid_url(url):
            raise PreflightError(
                f"{source}: {field}: invalid URL {url!r}: expected http(s)://host:port"
            )
        if not hosts.allows(url):
            raise PreflightError(
                f"{source}: {field}: {_origin_text(url)} is not an allowed host "
                f"(allowed: {hosts}); nothing was sent: to reach it, run with "
                f"--allow-host {_origin_text(url)}"
            )
    admin = admin_origin(experiment)
    names: list[str] = []
    for where, activity in _activities(experiment):
        if isinstance(activity.provider, InjectionProvider):
            names.append(activity.name)
            origin = _origin_text(activity.provider.admin_url)
            if origin != admin:
                raise PreflightError(
                    f"{source}: {where}.provider.admin_url: {origin} is a second admin host "
                    f"(the first is {admin}); the admin token is sent to one host only"
                )
    if names and not os.environ.get(token_env):
        raise PreflightError(
            f"${token_env} is not set: the experiment's injection actions "
            f"({', '.join(dict.fromkeys(names))}) need the chaos admin token"
        )
    if journal_path is not None:
        _check_journal(journal_path)
