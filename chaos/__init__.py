"""reliability-os: chaos."""
