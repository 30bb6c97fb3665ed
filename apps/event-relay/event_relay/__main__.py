"""`python -m event_relay`: the relay as a local process (see stream.py)."""

import sys

from .stream import main

sys.exit(main())
