"""``python -m reid_runner`` is the ``reid`` command."""

from __future__ import annotations

from reid_runner.cli import main

raise SystemExit(main())
