"""``python -m refconv``: the ``refconv`` command."""

import sys

from refconv.cli import main

sys.exit(main())
