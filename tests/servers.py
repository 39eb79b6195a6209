"""Real servers for integration tests: Prometheus and Redis on loopback, started by the tests.

A missing binary skips the test with the reason, except under ``CI=true`` where it fails: CI
installs the servers, so a skip there would hide a broken install step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def require_binary(name: str) -> str:
    """Path of `name`; skip the test when missing (fail under CI=true)."""
    path = shutil.which(name)
    if path is None:
        package = _PACKAGES.get(os.path.basename(name), name)
        reason = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must install it")
        pytest.skip(reason)
    return path


_PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "redis-server": "redis-server",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


def _wait_until(check: object, what: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")


class PrometheusServer:
    """A Prometheus process on 127.0.0.1 with its own config and TSDB directory."""

    def __init__(
        self,
        config_yaml: str,
        *,
        tsdb_dir: Path | None = None,
        retention: str = "3650d",
        extra_args: tuple[str, ...] = (),
        rule_files: dict[str, str] | None = None,
    ) -> None:
        self._binary = require_binary("prometheus")
        self._tmp = tempfile.TemporaryDirectory(prefix="prom-test-")
        root = Path(self._tmp.name)
        for name, text in (rule_files or {}).items():
            (root / name).write_text(text)
        self.config_path = root / "prometheus.yml"
        self.config_path.write_text(config_yaml)
        self.tsdb_dir = tsdb_dir or root / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = [
            self._binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.tsdb_dir}",
            f"--storage.tsdb.retention.time={retention}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            *extra_args,
        ]
        self._log = open(root / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        self.proc = subprocess.Popen(self._args, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            _wait_until(lambda: _http_ok(f"{self.url}/-/ready"), "prometheus", timeout, self.proc)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; log:\n{self.log_tail()}") from None
        return self

    def log_tail(self, lines: int = 30) -> str:
        path = Path(self._tmp.name) / "prometheus.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self._tmp.cleanup()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def backfilled_prometheus(
    root: Path, openmetrics: str, *, scrape_interval: str = "1m"
) -> Iterator[PrometheusServer]:
    """A real Prometheus serving `openmetrics` (an OpenMetrics text ending in ``# EOF``),
    backfilled into a TSDB under `root` by ``promtool tsdb create-blocks-from openmetrics``."""
    promtool = require_binary("promtool")
    require_binary("prometheus")
    source = root / "series.om"
    source.write_text(openmetrics)
    tsdb = root / "data"
    subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=720h",
            str(source),
            str(tsdb),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = f"global:\n  scrape_interval: {scrape_interval}\nscrape_configs: []\n"
    # the default retention (10 years) outlives the data's age: nothing is deleted at startup
    with PrometheusServer(config, tsdb_dir=tsdb) as server:
        yield server


class RedisServer:
    """A redis-server on 127.0.0.1 with no persistence; can be killed and restarted on its port."""

    def __init__(self) -> None:
        self._binary = require_binary("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> RedisServer:
        args = [
            self._binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(lambda: _redis_ping(self.port), "redis-server", timeout, self.proc)
        return self

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started RedisServer, stopped on exit."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
