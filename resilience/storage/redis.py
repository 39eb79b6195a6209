"""`RedisStorage`: circuit-breaker state and token buckets shared through Redis (``redis.asyncio``).

Keys: one hash per policy, ``{namespace}:{policy}``, holding the breaker's shared state, each
instance's window counts and the policy's token bucket; every write refreshes its TTL (`key_ttl`).
Every decision (merge the windows and trip, grant a half-open permit, close or reopen after the
probes, take a token) is one Lua script, so it is atomic across the fleet. Time is the Redis
server's clock.

Round trips: none on a breaker's closed-state call path; one per attached breaker per
`sync_interval` (the background sync); one per half-open permit and probe outcome; one per
rate-limited call. `round_trips` counts them.

Failure handling: a command that fails or takes longer than `timeout` is counted
(`StorageError` event → ``resilience_storage_errors_total``) and the storage is considered down
for a backoff (exponential with full jitter, up to `max_backoff`): meanwhile every operation
answers at once from local state. The next operation after the backoff reconnects. So a dead or
slow Redis never fails a call, and a closed breaker's calls never wait for it (they make no round
trip). Operations that need Redis (a shared rate limit, a half-open permit or probe outcome) and
are in flight when it dies or hangs wait up to `timeout` (a connection attempt, up to `timeout`
too) before answering locally; the ones after that, until the backoff ends, do not wait.

Added in 0.1.0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import uuid
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from importlib import resources
from typing import Any

try:
    from redis.asyncio import Redis
    from redis.asyncio.connection import parse_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "RedisStorage needs the redis package: pip install 'reliability-os[redis]'"
    ) from exc

from resilience._errors import ConfigError
from resilience._events import Emitter, PolicyInfo, StorageError
from resilience.storage import BreakerSettings, SharedBreaker
from resilience.storage._redis_link import RedisBreakerLink

__all__ = ["RedisStorage"]

_log = logging.getLogger("resilience.storage")

_BREAKER_LUA = resources.files("resilience.storage").joinpath("breaker.lua").read_text()
_RATELIMIT_LUA = resources.files("resilience.storage").joinpath("ratelimit.lua").read_text()

_URL_FORM = "a redis://[[user]:password@]host[:port][/db], rediss:// (TLS) or unix:///path URL"


def _check_url(url: object) -> str:
    """`url` if redis-py can connect with it, else ConfigError (the password never shown)."""
    if not isinstance(url, str) or not url:
        raise ConfigError(f"RedisStorage: url expected {_URL_FORM}, got {url!r}")
    try:
        parse_url(url)
    except ValueError as exc:
        # Whatever precedes the last "@" may hold a password, even in a URL too broken to parse.
        _scheme, sep, rest = url.partition("://")
        secret = (rest if sep else url).rpartition("@")[0]
        shown = url.replace(secret, "***", 1) if secret else url
        reason = str(exc)
        detail = f" ({reason})" if reason and (not secret or secret not in reason) else ""
        message = f"RedisStorage: url expected {_URL_FORM}, got {shown!r}{detail}"
        raise ConfigError(message) from None
    return url


class _Staged:
    """Links attached inside `RedisStorage.staged_attach()`, installed only when it succeeds."""

    __slots__ = ("links", "storage")

    def __init__(self, storage: RedisStorage) -> None:
        self.storage = storage
        self.links: dict[str, RedisBreakerLink] = {}


# A context variable, not an attribute: a plan (re)load in one thread or task holds back only its
# own attaches, never a breaker another thread attaches meanwhile.
_STAGED: ContextVar[_Staged | None] = ContextVar("resilience_storage_staged", default=None)


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"RedisStorage: {name} expected seconds > 0, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"RedisStorage: {name} expected seconds > 0, got {value!r}")
    return float(value)


class RedisStorage:
    """Shares circuit breakers and rate limits between processes through one Redis.

    `url` is a redis-py URL (``redis://host:6379/0``, ``rediss://`` for TLS, ``unix://``);
    `namespace` prefixes every key, so several services can share one Redis; `sync_interval` is
    how often each breaker merges its window with the fleet's (a trip anywhere is seen everywhere
    within it); `key_ttl` is how long an idle policy's keys live; `timeout` bounds every command;
    `max_backoff` caps the wait before reconnecting. Use one storage per process for all breakers
    and limiters; `aclose()` stops its background task and closes its connections.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "resilience",
        sync_interval: float = 1.0,
        key_ttl: float = 3600.0,
        timeout: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        url = _check_url(url)  # now, not as an error in the first rate-limited call
        if not isinstance(namespace, str) or not namespace:
            raise ConfigError(
                f"RedisStorage: namespace expected a non-empty string, got {namespace!r}"
            )
        self.url = url
        self.namespace = namespace
        self.sync_interval = _positive("sync_interval", sync_interval)
        self.key_ttl = _positive("key_ttl", key_ttl)
        self.timeout = _positive("timeout", timeout)
        self.max_backoff = _positive("max_backoff", max_backoff)
        self.instance_id = uuid.uuid4().hex[:12]
        self.round_trips = 0
        """Scripts run so far, one round trip each (a server that lost its scripts costs 2 more)."""
        self.errors = 0
        """Failed or timed-out Redis commands so far."""
        self._links: dict[str, RedisBreakerLink] = {}
        self._buckets: dict[str, _LocalBucket] = {}
        self._emitters: dict[str, Emitter] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._consecutive_errors = 0
        self._down_until = -math.inf
        self._closing = False

    def key(self, policy: str) -> str:
        """The Redis key of `policy`'s shared state."""
        return f"{self.namespace}:{policy}"

    def describe(self) -> str:
        """One line with every setting (no credentials)."""
        return (
            f"RedisStorage(namespace={self.namespace!r}, sync_interval={self.sync_interval:g}s, "
            f"key_ttl={self.key_ttl:g}s, timeout={self.timeout:g}s)"
        )

    def __repr__(self) -> str:
        return self.describe()

    @property
    def available(self) -> bool:
        """False while the storage backs off after an error (operations then answer locally)."""
        return self._now() >= self._down_until

    # ------------------------------------------------------------------------------- breakers

    def attach(
        self, name: str, settings: BreakerSettings, breaker: SharedBreaker
    ) -> RedisBreakerLink:
        """Share breaker `name`'s state with every instance using the same namespace.

        One breaker per name per storage: attaching another breaker with the same name (e.g. a
        plan reload that rebuilt it) replaces the first one.
        """
        link = RedisBreakerLink(self, name, settings, breaker)
        self._emitter(name)
        staged = _STAGED.get()
        if staged is not None and staged.storage is self:
            staged.links[name] = link  # installed when the staged block succeeds
            return link
        self._links[name] = link
        link.ensure_started()
        return link

    @contextlib.contextmanager
    def staged_attach(self) -> Iterator[None]:
        """Hold back the breakers attached inside the block (in this thread or task).

        When the block ends without an exception they replace the breakers of the same names and
        the background sync starts; when it raises they are dropped, the breakers attached before
        stay shared, and no task is started. `load_plan` and `PlanRegistry.reload` build inside
        it, so a plan that fails to build leaves the storage as it was.
        """
        staged = _Staged(self)
        token = _STAGED.set(staged)
        try:
            yield
        finally:
            _STAGED.reset(token)
        self._links.update(staged.links)
        if staged.links:
            self.ensure_sync()

    def detach(self, link: RedisBreakerLink) -> None:
        """Stop syncing `link` (its breaker no longer shares state)."""
        if self._links.get(link.name) is link:
            del self._links[link.name]

    # ----------------------------------------------------------------------------- rate limits

    async def reserve(
        self, key: str, *, rate_per_second: float, burst: int, max_wait: float
    ) -> tuple[bool, float]:
        """Take one token of the fleet's bucket `key`: `(True, wait)` or `(False, retry_after)`.

        While Redis is unreachable the bucket is this process's own (same rate and burst).
        An empty `key` (a limiter without `key=` used before any policy named it) raises
        `ConfigError`: its bucket would be shared with every other such limiter.
        """
        if not key:
            raise ConfigError(
                "RateLimiter shared via RedisStorage: key expected a bucket name; pass "
                "RateLimiter(key=...) or use the limiter in a Policy (its name is the key)"
            )
        args = (
            repr(float(rate_per_second)),
            str(int(burst)),
            "1",
            repr(float(max_wait)),
            repr(self.key_ttl),
        )
        reply = await self.run_script("ratelimit", "reserve", key, args)
        if reply is None:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _LocalBucket(rate_per_second, burst)
            return bucket.reserve(self._now(), max_wait)
        return bool(int(reply[0])), float(reply[1])

    # ----------------------------------------------------------------------- background sync

    def ensure_sync(self) -> None:
        """Start the background sync on the running loop if it is not running (no loop: later)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first async use starts it
        if self._loop is not loop:
            self._bind_loop(loop)
        if self._closing:
            return
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._sync_forever(), name=f"{self!r} sync")

    def _bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        # redis.asyncio connections belong to one loop: a new loop gets a new client.
        self._loop = loop
        self._client = None
        self._scripts = {}
        self._task = None
        self._wake = asyncio.Event()

    def wake_sync(self) -> None:
        """Run the next sync now (e.g. to publish a local trip), from any thread."""
        loop = self._loop
        wake = self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    async def _sync_forever(self) -> None:
        wake = self._wake
        assert wake is not None
        loop = asyncio.get_running_loop()
        while not self._closing:
            # call_later rather than asyncio.timeout: on 3.11 a timeout expiring together with
            # aclose()'s cancel() can swallow the cancel, and this loop would never end.
            timer = loop.call_later(self.sync_interval, wake.set)
            try:
                await wake.wait()
            finally:
                timer.cancel()
            wake.clear()
            for link in list(self._links.values()):
                try:
                    await link.sync()
                except Exception:  # a bug here must not stop sharing for every other breaker
                    _log.exception("resilience storage: syncing %r failed", link.name)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background (rare paths only: half-open outcomes and releases)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return
        task = loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def start(self) -> None:
        """Start the background sync now (it also starts by itself on first use)."""
        self.ensure_sync()

    async def aclose(self) -> None:
        """Stop the background sync and close the connections."""
        self._closing = True
        tasks = [t for t in (self._task, *self._background) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def __aenter__(self) -> RedisStorage:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ commands

    def _now(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return -math.inf if self._loop is None else self._loop.time()

    def _get_client(self) -> Redis:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._bind_loop(loop)
        if self._client is None:
            # No retries inside redis-py: a failed command is answered locally and the storage
            # backs off as a whole, instead of every caller retrying against a dead server.
            self._client = Redis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
            self._scripts = {
                "breaker": self._client.register_script(_BREAKER_LUA),
                "ratelimit": self._client.register_script(_RATELIMIT_LUA),
            }
        return self._client

    async def run_script(
        self, script: str, operation: str, policy: str, args: tuple[str, ...]
    ) -> Any:
        """Run one script on `policy`'s key; None when Redis is down, slow or failing."""
        if not self.available:
            return None
        self._get_client()
        try:
            self.round_trips += 1
            # socket_timeout / socket_connect_timeout bound the wait. A NOSCRIPT reply (fresh
            # server) makes redis-py load the script and retry: 2 more commands, once.
            reply = await self._scripts[script](keys=[self.key(policy)], args=list(args))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # redis errors, OSError, TimeoutError: all mean "unavailable"
            self._failed(policy, operation, exc)
            return None
        if self._consecutive_errors:
            _log.warning("resilience storage: %s is reachable again", self.describe())
        self._consecutive_errors = 0
        return reply

    def _failed(self, policy: str, operation: str, exc: BaseException) -> None:
        self.errors += 1
        self._consecutive_errors += 1
        if self._consecutive_errors == 1:
            _log.warning(
                "resilience storage: %s failed (%s: %s); using local state until it is back",
                self.describe(),
                type(exc).__name__,
                exc,
            )
        # Jitter spreads the fleet's reconnects; the floor (half the ceiling) keeps a dead server
        # from being tried by every call.
        ceiling = min(self.max_backoff, self.timeout * 2 ** (self._consecutive_errors - 1))
        self._down_until = self._now() + random.uniform(ceiling / 2, ceiling)
        # The connection may be half-broken: drop the client, the next use reconnects.
        client, self._client = self._client, None
        if client is not None:
            self.spawn(_close_quietly(client))
        emitter = self._emitter(policy)
        if emitter.handlers:
            emitter.emit(StorageError(policy, "redis", operation, type(exc).__name__))

    def _emitter(self, policy: str) -> Emitter:
        emitter = self._emitters.get(policy)
        if emitter is None:
            info = PolicyInfo(name=policy, storage="redis")
            emitter = self._emitters[policy] = Emitter(info)
        return emitter


async def _close_quietly(client: Redis) -> None:
    with contextlib.suppress(Exception):
        await client.aclose()


class _LocalBucket:
    """The token bucket a process uses alone while Redis is unreachable."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last: float | None = None

    def reserve(self, now: float, max_wait: float) -> tuple[bool, float]:
        if self.last is not None and now > self.last:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.rate)
        self.last = now
        wait = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate
        if wait > max_wait:
            return False, wait
        self.tokens -= 1.0
        return True, wait
