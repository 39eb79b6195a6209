"""Renderers of the plan: text (the seed's report format), markdown, html, json and yaml."""
