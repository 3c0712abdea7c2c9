"""``python -m data_fetch``: same as the ``vaesource-fetch`` command."""

import sys

from ._cli import main

sys.exit(main())
