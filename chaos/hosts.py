"""The hosts an experiment may send requests to: chosen on the command line, never by the file.

An experiment file names URLs; whoever runs it decides which hosts those URLs may reach
(``reliability chaos run --allow-host HOST[:PORT]``, repeatable). Without a choice, only this
machine's loopback names are allowed (`LOOPBACK`: ``127.0.0.1``, ``::1``, ``localhost``), on any
port. Hosts are compared by name as written in the URL (case-insensitive), never resolved: an
allowed name is the one the runner was given. Added in 0.1.0.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from yarl import URL

from resilience import ResilienceError

__all__ = ["LOOPBACK", "AllowedHosts", "HostPattern", "url_origin"]

LOOPBACK = ("127.0.0.1", "::1", "localhost")
"""The hosts allowed when the runner is given none (any port)."""

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class HostPattern:
    """One allowed host, on one port or (`port` None) on any."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        """``HOST``, ``HOST:PORT``, ``[IPV6]`` or ``[IPV6]:PORT``; else `ValueError` saying why."""
        value = text.strip().lower()
        if "/" in value or "@" in value:
            raise ValueError(f"expected HOST[:PORT], not a URL, got {text!r}")
        port_text: str | None = None
        if value.startswith("["):
            host, bracket, rest = value[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise ValueError(f"expected HOST[:PORT] or [IPV6][:PORT], got {text!r}")
            port_text = rest[1:] if rest else None
        elif value.count(":") == 1:
            host, _, port_text = value.partition(":")
        else:
            host = value  # a bare name, an IPv4 address or an unbracketed IPv6 address
        if ":" in host:
            try:
                host = str(ipaddress.IPv6Address(host))
            except ValueError:
                raise ValueError(f"expected an IPv6 address in {text!r}, got {host!r}") from None
        elif not _NAME.match(host):
            raise ValueError(f"expected a host name or an IP address, got {text!r}")
        port: int | None = None
        if port_text is not None:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"expected a port between 1 and 65535 in {text!r}")
            port = int(port_text)
        return cls(host, port)


def url_origin(url: str) -> tuple[str, int] | None:
    """The (host, port) a URL reaches, the port defaulted by scheme; None when it has no host.

    Parsed with yarl, as aiohttp parses it when it sends the request: the host checked is the
    host connected to.
    """
    try:
        parsed = URL(url)
        host, port, scheme = parsed.host, parsed.port, parsed.scheme
    except (ValueError, TypeError):  # e.g. a backslash in the authority, a bad port
        return None
    if not host or scheme not in _DEFAULT_PORTS or port is None:
        return None
    host = host.lower()
    if ":" in host:
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
    return host, port


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """The hosts (and ports) requests may go to."""

    patterns: tuple[HostPattern, ...]

    @classmethod
    def of(cls, hosts: Iterable[str] | None = None) -> AllowedHosts:
        """From ``HOST[:PORT]`` texts; None (not an empty list) means `LOOPBACK`.

        Raises `ResilienceError` naming a text that is not a host.
        """
        texts = LOOPBACK if hosts is None else tuple(hosts)
        try:
            return cls(tuple(HostPattern.parse(text) for text in texts))
        except ValueError as exc:
            raise ResilienceError(f"--allow-host: {exc}") from None

    def allows(self, url: str) -> bool:
        """Whether `url`'s host and port are allowed."""
        origin = url_origin(url)
        if origin is None:
            return False
        host, port = origin
        return any(p.host == host and p.port in (None, port) for p in self.patterns)

    def __str__(self) -> str:
        return ", ".join(str(p) for p in self.patterns) or "(none)"
