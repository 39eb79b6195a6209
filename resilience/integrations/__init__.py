"""Integrations of resilience policies with client libraries (`resilience.integrations.aiohttp`)."""
