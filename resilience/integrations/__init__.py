"""Integrations of resilience policies with HTTP client libraries, each imported on its own so a
service installs only what it uses: `resilience.integrations.aiohttp` (client middleware),
`resilience.integrations.httpx` (transports for AsyncClient and Client, ``[httpx]`` extra) and
`resilience.integrations.requests` (an HTTPAdapter, ``[requests]`` extra)."""
