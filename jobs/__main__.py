"""`python -m jobs NAME [--dry-run] [--json]`."""

import sys

from jobs.runner import main

sys.exit(main())
