"""`python -m runbook.cli`: the console script without the installed entry point."""

import sys

from runbook.cli.main import run

sys.exit(run())
