"""``python -m nn`` is the ``tapegrad`` command."""

import sys

from .cli import main

sys.exit(main())
