"""URLs given on the command line (`--prometheus`, `--metrics-url`, chaos `--url`), checked early.

A malformed URL is bad input, said as such before anything is requested: otherwise aiohttp's
error for it reads like an unreachable server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from planner.errors import PlannerError

__all__ = ["check_url"]


def check_url(url: str, where: str) -> str:
    """`url` when it is an absolute http(s) URL with a host (and a valid port); else PlannerError.

    `where` names the URL's source in the message (a flag such as ``--prometheus``).
    """
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number or out of range
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise PlannerError(f"{where}: invalid URL {url!r}: expected http(s)://host:port")
    return url
