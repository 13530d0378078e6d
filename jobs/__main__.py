"""`python -m jobs NAME [--dry-run] [--json]`."""

import sys

from jobs.runner import main

if __name__ == "__main__":  # importing the module (tests, tools) runs nothing
    sys.exit(main())
