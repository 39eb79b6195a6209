"""`python -m planner` runs the `reliability` command."""

import sys

from planner.cli import main

sys.exit(main())
