"""The scripted aiohttp backend of `tests.resilience.integrations.test_aiohttp_client`, served
from a thread on loopback for the sync HTTP clients (httpx.Client, requests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from tests.resilience.integrations.test_aiohttp_client import Backend


@contextmanager
def threaded_backend() -> Iterator[Backend]:
    """A `Backend` on 127.0.0.1 served by its own event loop in a daemon thread."""
    backend = Backend()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(backend.app, access_log=None)
    ready = threading.Event()

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        backend.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="test-backend", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the test backend did not start within 10 s")
    try:
        yield backend
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
