"""``python -m refconv``: the ``refconv`` command."""

import sys

from refconv.cli import main

if __name__ == "__main__":
    sys.exit(main())
