"""`python -m myostride ...` is the same as the `myostride` command."""

import sys

from .cli import main

sys.exit(main())
