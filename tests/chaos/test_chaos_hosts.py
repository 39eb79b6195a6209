"""Experiments cannot choose where requests, and the admin token, go.

A second loopback address (127.0.0.2) stands for a host the experiment's author controls: a real
aiohttp server bound there records every request and its headers. Requests reach it only when the
runner allows it on the command line, the token reaches it only when it is the admin URL's host,
and redirects to it are never followed.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from chaos.experiment import (
    MAX_ACTIVITIES,
    ExperimentError,
    load_experiment,
    parse_experiment,
)
from chaos.hosts import AllowedHosts, HostPattern
from chaos.preflight import PreflightError
from chaos.runner import run_experiment
from planner.cli import main
from tests.chaos.test_chaos_runner import POLICY, plan_mechanisms
from tests.chaos_service import TOKEN, running_service

pytestmark = pytest.mark.integration

OTHER_HOST = "127.0.0.2"


@dataclass
class Recorder:
    """A server on `host` that records each request's method, path and headers."""

    base_url: str
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.base_url.removeprefix("http://")

    def authorizations(self) -> list[str]:
        return [h["Authorization"] for _, _, h in self.seen if "Authorization" in h]


@asynccontextmanager
async def recorder(host: str, redirect_to: str | None = None) -> AsyncIterator[Recorder]:
    """Serve on `host`: 200 to ``GET /ask`` and to admin switches, and, with `redirect_to`, a 302
    (GET) or 307 (POST) to it from ``/moved`` and ``/admin/chaos/{policy}``."""
    record = Recorder("")

    async def handle(request: web.Request) -> web.StreamResponse:
        record.seen.append((request.method, request.path, dict(request.headers)))
        await request.read()
        if redirect_to is not None and request.path != "/ask":
            status = 307 if request.method == "POST" else 302
            return web.Response(status=status, headers={"Location": redirect_to})
        if request.method == "POST":
            return web.json_response({"policy": request.path.rsplit("/", 1)[-1], "injections": []})
        return web.json_response({"answer": "ok"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    record.base_url = f"http://{host}:{runner.addresses[0][1]}"
    try:
        yield record
    finally:
        await runner.cleanup()


def probe(name: str, url: str, requests: int = 5) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": name,
        "provider": {"type": "http", "url": url, "requests": requests},
        "tolerance": {"type": "range", "range": [0, 0], "target": "error_ratio"},
    }


def switch(name: str, admin_url: str, enabled: bool) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "type": "injection",
        "admin_url": admin_url,
        "policy": POLICY,
        "enabled": enabled,
    }
    if enabled:
        provider.update(fault="fault", injection_rate=1.0)
    return {"type": "action", "name": name, "provider": provider}


def experiment(probe_url: str, admin_url: str) -> dict[str, Any]:
    """Probe `probe_url` before and after; switch the fault on and off through `admin_url`."""
    return {
        "title": "the other host sees only what it is allowed to",
        "steady-state-hypothesis": {"title": "it answers", "probes": [probe("other", probe_url)]},
        "method": [switch("inject", admin_url, True), probe("during", probe_url)],
        "rollbacks": [switch("stop", admin_url, False)],
    }


@pytest.fixture(autouse=True)
def admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)


async def test_nothing_is_sent_to_a_host_not_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        running_service(POLICY, plan_mechanisms) as service,
        recorder(OTHER_HOST) as other,
    ):
        data = experiment(f"{other.base_url}/ask", f"{service.base_url}/admin/chaos")
        exp = parse_experiment(data, "hostile.yaml")
        with pytest.raises(PreflightError) as raised:
            await run_experiment(exp, stream=io.StringIO(), source="hostile.yaml")
        path = tmp_path / "hostile.yaml"
        path.write_text(yaml.safe_dump(data))
        journal = tmp_path / "journal.json"
        code = await asyncio.to_thread(main, ["chaos", "run", str(path), "--journal", str(journal)])
        assert other.seen == []  # not one request, not even the steady-state probe
        assert service.fault.injected == 0 and not service.fault.enabled
    assert str(raised.value) == (
        f"hostile.yaml: steady-state-hypothesis.probes[0].provider.url: {other.origin} is not "
        "an allowed host (allowed: 127.0.0.1, [::1], localhost); nothing was sent: to reach it, "
        f"run with --allow-host {other.origin}"
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"reliability: error: {str(raised.value).replace('hostile.yaml', str(path))}\n"
    assert not journal.exists()


async def test_an_allowed_host_gets_the_requests_but_never_the_token(tmp_path: Path) -> None:
    async with (
        running_service(POLICY, plan_mechanisms) as service,
        recorder(OTHER_HOST) as other,
    ):
        data = experiment(f"{other.base_url}/ask", f"{service.base_url}/admin/chaos")
        path = tmp_path / "exp.yaml"
        path.write_text(yaml.safe_dump(data))
        code = await asyncio.to_thread(
            main,
            [
                "chaos",
                "run",
                str(path),
                "--journal",
                str(tmp_path / "j.json"),
                "--allow-host",
                "127.0.0.1",
                "--allow-host",
                other.origin,
            ],
        )
        assert service.fault.enabled is False  # switched on, then rolled back
        state = service.chaos.injections(POLICY, "fault")[0]
        assert state.injection_rate == 1.0  # the switch reached the admin host
    assert code == 0
    assert len(other.seen) == 15  # 5 requests before, during and after
    assert other.authorizations() == []
    assert not any(TOKEN in value for _, _, headers in other.seen for value in headers.values())


async def test_the_token_goes_to_the_admin_host_and_only_there(tmp_path: Path) -> None:
    async with (
        running_service(POLICY, plan_mechanisms) as service,
        recorder(OTHER_HOST) as admin,
    ):
        data = experiment(f"{service.base_url}/ask", f"{admin.base_url}/admin/chaos")
        result = await run_experiment(
            parse_experiment(data),
            stream=io.StringIO(),
            allow_hosts=AllowedHosts.of(["127.0.0.1", OTHER_HOST]),
        )
    assert result.verdict.held
    assert [(m, p) for m, p, _ in admin.seen] == [
        ("POST", f"/admin/chaos/{POLICY}"),
        ("POST", f"/admin/chaos/{POLICY}"),
    ]
    assert admin.authorizations() == [f"Bearer {TOKEN}"] * 2


async def test_a_second_admin_host_is_refused_before_anything_is_sent() -> None:
    async with (
        running_service(POLICY, plan_mechanisms) as service,
        recorder(OTHER_HOST) as other,
    ):
        data = experiment(f"{service.base_url}/ask", f"{service.base_url}/admin/chaos")
        data["rollbacks"].append(switch("stop-elsewhere", f"{other.base_url}/admin", False))
        with pytest.raises(PreflightError, match=r"rollbacks\[1\].provider.admin_url: .* second"):
            await run_experiment(
                parse_experiment(data),
                stream=io.StringIO(),
                allow_hosts=AllowedHosts.of(["127.0.0.1", OTHER_HOST]),
            )
        assert other.seen == [] and service.fault.injected == 0


async def test_redirects_to_another_host_are_not_followed() -> None:
    async with (
        running_service(POLICY, plan_mechanisms) as service,
        recorder(OTHER_HOST) as target,
        recorder("127.0.0.1", redirect_to=f"{target.base_url}/ask") as redirector,
    ):
        data: dict[str, Any] = {
            "title": "redirects",
            "method": [
                {
                    "type": "probe",
                    "name": "moved",
                    "provider": {"type": "http", "url": f"{redirector.base_url}/moved"},
                    "tolerance": 302,  # a 3xx is the probe's result
                },
                {
                    "type": "probe",
                    "name": "metrics-moved",
                    "provider": {
                        "type": "metric",
                        "url": f"{redirector.base_url}/moved",
                        "name": "x",
                    },
                },
                switch("inject", f"{redirector.base_url}/admin/chaos", True),
            ],
        }
        result = await run_experiment(
            parse_experiment(data),
            stream=io.StringIO(),
            allow_hosts=AllowedHosts.of(["127.0.0.1", OTHER_HOST]),  # even though allowed
        )
        assert service.fault.injected == 0
    assert target.seen == []
    assert [(m, p) for m, p, _ in redirector.seen] == [
        ("GET", "/moved"),
        ("GET", "/moved"),
        ("POST", f"/admin/chaos/{POLICY}"),
    ]
    run = {r["activity"]["name"]: r for r in result.journal["run"]}
    assert run["moved"]["output"]["statuses"] == {"302": 1}
    assert run["moved"]["tolerance_met"] is True
    assert run["metrics-moved"]["exception"].endswith("/moved: HTTP 302")
    assert run["inject"]["status"] == "failed"
    assert "HTTP 307 redirect" in run["inject"]["exception"]
    assert "not followed" in run["inject"]["exception"]
    assert result.verdict.status == "aborted"


async def test_token_env_names_the_variable_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELIABILITY_CHAOS_TOKEN")
    monkeypatch.setenv("STAGING_CHAOS_TOKEN", "staging-token")
    async with recorder("127.0.0.1") as admin:
        data = experiment(f"{admin.base_url}/ask", f"{admin.base_url}/admin/chaos")
        path = tmp_path / "exp.yaml"
        path.write_text(yaml.safe_dump(data))
        journal = str(tmp_path / "j.json")
        run = ["chaos", "run", str(path), "--journal", journal]
        without = await asyncio.to_thread(main, run)
        assert admin.seen == []  # RELIABILITY_CHAOS_TOKEN unset: refused before the run
        code = await asyncio.to_thread(main, [*run, "--token-env", "STAGING_CHAOS_TOKEN"])
    assert (without, code) == (2, 0)
    assert admin.authorizations() == ["Bearer staging-token"] * 2


def test_a_token_env_in_the_file_is_refused_saying_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = experiment("http://127.0.0.1:1/ask", "http://127.0.0.1:1/admin/chaos")
    data["rollbacks"][0]["provider"]["token_env"] = "AWS_SECRET_ACCESS_KEY"
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ExperimentError) as raised:
        load_experiment(path)
    assert str(raised.value) == (
        f"{path}: rollbacks[0].provider.token_env: an experiment file cannot choose the "
        "environment variable its admin token is read from; remove `token_env`: the runner reads "
        "$RELIABILITY_CHAOS_TOKEN, or the variable named with "
        "`reliability chaos run --token-env NAME`"
    )
    assert main(["chaos", "run", str(path)]) == 2
    assert main(["chaos", "export", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"reliability: error: {raised.value}\n" * 2


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        ("method[0].pauses.after", 3601, "less than or equal to 3600"),
        ("method[0].pauses.before", "2h", "less than or equal to 3600"),
        ("method[1].provider.timeout", 601, "less than or equal to 600"),
        ("method[1].provider.timeout", 0, "greater than 0"),
        ("method[1].provider.requests", 10_001, "less than or equal to 10000"),
        ("method[1].provider.concurrency", 101, "less than or equal to 100"),
        ("method[1].provider.rate", 1_001, "less than or equal to 1000"),
        ("method[1].provider.expected_status", 600, "less than or equal to 599"),
        ("method[0].provider.latency", 601, "less than or equal to 600"),
        ("method[0].provider.injection_rate", 1.5, "less than or equal to 1"),
        ("method[0].provider.timeout", "1h", "less than or equal to 600"),
        ("runtime.hypothesis_frequency", 3601, "less than or equal to 3600"),
        ("runtime.hypothesis_frequency", 0.001, "greater than or equal to 0.01"),
    ],
)
def test_out_of_bound_values_are_refused_naming_the_field(
    where: str, value: object, expected: str
) -> None:
    data: dict[str, Any] = {
        "title": "bounds",
        "method": [
            switch("inject", "http://127.0.0.1:1/admin/chaos", True),
            {"type": "action", "name": "load", "provider": {"type": "load", "url": "http://x"}},
        ],
        "runtime": {},
    }
    target: Any = data
    *parents, leaf = where.replace("[", ".").replace("]", "").split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
    target[leaf] = value
    with pytest.raises(ExperimentError) as raised:
        parse_experiment(data, "big.yaml")
    assert str(raised.value) == f"big.yaml: {where}: Input should be {expected}"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"X-Ok": "a\r\nInjected: yes"},
            "header 'X-Ok': control characters (CR, LF, NUL) in its value",
        ),
        ({"X-Ok": "\x00"}, "header 'X-Ok': control characters (CR, LF, NUL) in its value"),
        ({"Bad Name": "x"}, "'Bad Name' is not an HTTP header name"),
    ],
)
def test_headers_that_would_split_a_request_are_refused_in_the_file(
    headers: dict[str, str], message: str
) -> None:
    provider = {"type": "http", "url": "http://127.0.0.1:1/", "headers": headers}
    data = {"title": "h", "method": [{"type": "probe", "name": "p", "provider": provider}]}
    with pytest.raises(ExperimentError) as raised:
        parse_experiment(data, "h.yaml")
    assert str(raised.value) == f"h.yaml: method[0].provider.headers: {message}"


def test_the_number_of_activities_is_bounded() -> None:
    method = [probe(f"p{i}", "http://127.0.0.1:1/") for i in range(MAX_ACTIVITIES + 1)]
    with pytest.raises(ExperimentError, match=r"^x: method: List should have at most 1000 items"):
        parse_experiment({"title": "many", "method": method}, "x")
    parse_experiment({"title": "many", "method": method[:MAX_ACTIVITIES]}, "x")


@pytest.mark.parametrize(
    ("text", "url", "allowed"),
    [
        ("127.0.0.2", "http://127.0.0.2:9/x", True),
        ("127.0.0.2", "http://127.0.0.3:9/x", False),
        ("Staging.Internal:8080", "https://staging.internal:8080/", True),
        ("staging.internal:8080", "http://staging.internal/", False),  # port 80
        ("staging.internal:443", "https://staging.internal/", True),
        ("[::1]:9000", "http://[::1]:9000/", True),
        ("::1", "http://[0:0:0:0:0:0:0:1]:1/", True),
        ("127.0.0.1", "http://127.0.0.1.evil.example/", False),
        ("127.0.0.1", "http://evil.example/?127.0.0.1", False),
        ("127.0.0.1", "http://127.0.0.1@evil.example/", False),
        ("127.0.0.1", "file:///etc/passwd", False),
        ("127.0.0.1", "http://evil.example\\@127.0.0.1/", False),  # aiohttp refuses it, so do we
        ("127.0.0.1", "http://127.0.0.1#@evil.example/", True),  # yarl and aiohttp: 127.0.0.1
        ("evil.example", "http://127.0.0.1:80\\@evil.example/", False),
    ],
)
def test_allowed_hosts_match_host_and_port_exactly(text: str, url: str, allowed: bool) -> None:
    assert AllowedHosts.of([text]).allows(url) is allowed


def test_loopback_by_default_and_not_the_rest_of_127() -> None:
    default = AllowedHosts.of()
    assert default.allows("http://127.0.0.1:8080/") and default.allows("http://localhost/")
    assert default.allows("http://[::1]:1/")
    assert not default.allows("http://127.0.0.2:8080/")
    assert not AllowedHosts.of([]).allows("http://127.0.0.1/")  # an empty list allows nothing


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "expected a host name or an IP address, got 'a b'"),
        ("host:0", "expected a port between 1 and 65535 in 'host:0'"),
        ("host:http", "expected a port between 1 and 65535 in 'host:http'"),
        ("[::1", "expected HOST[:PORT] or [IPV6][:PORT], got '[::1'"),
        ("http://host", "expected HOST[:PORT], not a URL, got 'http://host'"),
    ],
)
def test_bad_allow_host_is_one_clear_line(
    text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        HostPattern.parse(text)
    assert main(["chaos", "run", "x.yaml", "--allow-host", text]) == 2
    assert capsys.readouterr().err.endswith(f"argument --allow-host: {message}\n")


def test_generate_names_the_hosts_a_run_must_allow(tmp_path: Path) -> None:
    spec = "examples/ai_gateway/system.yaml"
    out = tmp_path / "exp"
    urls = ["--url", "http://staging.internal:8080/v1", "--admin-url", "http://[::1]:9/admin"]
    assert main(["chaos", "generate", spec, "-o", str(out), *urls]) == 0
    first = sorted(out.iterdir())[0]
    assert first.read_text().splitlines()[1] == (
        "# Its hosts must be allowed: reliability chaos run FILE "
        "--allow-host staging.internal:8080 --allow-host [::1]:9 --allow-host 127.0.0.1:8080"
    )
    load_experiment(first)  # what generate writes, the runner accepts
    assert main(["chaos", "generate", spec, "-o", str(tmp_path / "local")]) == 0
    local = sorted((tmp_path / "local").iterdir())[0].read_text().splitlines()
    assert not local[1].startswith("# Its hosts")
