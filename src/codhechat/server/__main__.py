"""`python -m codhechat.server --host ... --port ...` runs `codhechat serve`."""

import sys

from codhechat.server.cli import main

sys.exit(main())
