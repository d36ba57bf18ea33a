"""`python -m runbook.cli`: the console script without the installed entry point."""

import sys

from runbook.cli.main import main

sys.exit(main())
