"""Actions: switch a chaos strategy on a running service, drive bounded load against a URL.

Each action is an async function of its provider model (`chaos.experiment`) returning plain data
for the journal; failures raise `chaos.probes.ActivityError`. Added in 0.1.0.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from chaos.experiment import HttpProvider, InjectionProvider, LoadProvider
from chaos.probes import (
    NO_ANSWER,
    ActivityError,
    UnreachableError,
    client_session,
    http_requests,
    unreachable_reason,
)


async def switch_injection(
    provider: InjectionProvider, session: aiohttp.ClientSession | None = None, *, token: str
) -> dict[str, Any]:
    """POST the switch to ``{admin_url}/{policy}`` with `token`; returns the strategies' new state.

    A redirect is not followed (the token goes to the admin URL only): it is a failed switch.
    """
    if not token:
        raise ActivityError(f"switch {provider.policy!r}: no admin token")
    body: dict[str, Any] = {"enabled": provider.enabled}
    if provider.fault is not None:
        body["fault"] = provider.fault
    if provider.injection_rate is not None:
        body["injection_rate"] = provider.injection_rate
    if provider.latency is not None:
        body["latency"] = provider.latency
    url = f"{provider.admin_url.rstrip('/')}/{provider.policy}"
    own = session is None
    session = session or client_session()
    try:
        async with session.post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=provider.timeout),
            allow_redirects=False,
        ) as response:
            status = response.status
            if 300 <= status < 400:
                location = response.headers.get("Location", "")[:200]
                raise ActivityError(
                    f"POST {url}: HTTP {status} redirect to {location!r}, not followed: "
                    "the admin token is sent to the admin URL only"
                )
            payload = await response.json(content_type=None)
    except NO_ANSWER as exc:
        raise UnreachableError(url, unreachable_reason(exc, provider.timeout)) from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise ActivityError(f"POST {url}: {exc or type(exc).__name__}") from None
    finally:
        if own:
            await session.close()
    if status != 200:
        reason = payload.get("error") if isinstance(payload, dict) else payload
        raise ActivityError(f"POST {url}: HTTP {status}: {reason}")
    if not isinstance(payload, dict):
        raise ActivityError(f"POST {url}: expected a JSON object, got {payload!r}")
    return payload


async def drive_load(
    provider: LoadProvider | HttpProvider, session: aiohttp.ClientSession | None = None
) -> dict[str, Any]:
    """Send a bounded number of requests (paced at `rate` per second when given); summarise."""
    return await http_requests(provider, session)
