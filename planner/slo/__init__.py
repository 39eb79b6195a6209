"""SLOs in Prometheus: recording and alerting rules, SLA tracking from real metrics, dashboards.

`definition` maps the spec onto SLO definitions; `rules` writes Prometheus rules and the
Alertmanager inhibition; `sla` measures compliance from a Prometheus-compatible server or one
scrape of `/metrics`; `dashboard` writes the Grafana dashboard.
"""
