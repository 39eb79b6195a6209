"""Instructions per request of the httpx transports, counted by callgrind: a figure that the
machine's other jobs do not move (the timed benchmarks on a shared 2-core machine vary by more
than the difference between the transports).

Run: ``.venv/bin/python benchmarks/transport_instructions.py`` (needs ``valgrind``; env K
requests, default 4000; about a minute per case). Each case runs in a child process under
``valgrind --tool=callgrind``: K calls of ``handle_async_request`` on one transport around an
inner transport that returns one prepared 200 response (so the inner transport costs almost
nothing), minus the same process with no calls, divided by K. ``PYTHONHASHSEED=0`` keeps it
deterministic. The cases are those of ``http_overhead.py``'s last group.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys

import httpx
import httpx_retries
import tenacity

from resilience import Bulkhead, CircuitBreaker, Policy, Retry, Timeout
from resilience.integrations.httpx import ResilientTransport

RESPONSE = httpx.Response(200, content=b"ok")
REQUEST = httpx.Request("GET", "http://dep/items/7")


class _Prepared(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return RESPONSE


def _full() -> Policy:
    return Policy(
        "full",
        retry=Retry(max_attempts=3),
        circuit_breaker=CircuitBreaker("full"),
        timeout=Timeout(1.0),
        bulkhead=Bulkhead(max_concurrent=100),
    )


def transports() -> list[tuple[str, httpx.AsyncBaseTransport]]:
    """(name, transport) per row; the first is the inner transport alone."""
    retry_only = Policy("retry", retry=Retry(max_attempts=3, wait=tenacity.wait_none()))
    peer = httpx_retries.Retry(total=2, backoff_factor=0)
    return [
        ("inner transport alone", _Prepared()),
        ("ResilientTransport, retry (ours)", ResilientTransport(retry_only, transport=_Prepared())),
        (
            "ResilientTransport, full policy (ours)",
            ResilientTransport(_full(), transport=_Prepared()),
        ),
        (
            "httpx-retries RetryTransport",
            httpx_retries.RetryTransport(transport=_Prepared(), retry=peer),
        ),
    ]


async def _run(transport: httpx.AsyncBaseTransport, k: int) -> None:
    handle = transport.handle_async_request
    for _ in range(k):
        await handle(REQUEST)


def _count(case: int, k: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--case", str(case), str(k)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count: {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    """Count every case and print the table."""
    if shutil.which("valgrind") is None:
        sys.exit("transport_instructions.py: valgrind is not installed (apt-get install valgrind)")
    k = int(os.environ.get("K", "4000"))
    names = [name for name, _ in transports()]
    empty = _count(0, 0)
    per = [(_count(i, k) - empty) / k for i in range(len(names))]
    print(f"Python {sys.version.split()[0]}; callgrind, {k} requests per case\n")
    print("| case | instructions per request | overhead |")
    print("|---|---:|---:|")
    for name, count in zip(names, per, strict=True):
        print(f"| {name} | {count:,.0f} | {count - per[0]:,.0f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        asyncio.run(_run(transports()[int(sys.argv[2])][1], int(sys.argv[3])))
    else:
        main()
