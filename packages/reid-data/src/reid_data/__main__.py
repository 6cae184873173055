"""``python -m reid_data check NAME --root DIR``: the ``reid data`` command without the runner."""

from __future__ import annotations

import sys

from reid_data.cli import main

if __name__ == "__main__":
    sys.exit(main())
