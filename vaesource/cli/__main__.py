"""``python -m vaesource.cli``: the ``vaesource`` command."""

import sys

from . import main

sys.exit(main())
