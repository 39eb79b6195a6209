"""reliability-os: exporters."""
