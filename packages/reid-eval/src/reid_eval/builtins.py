"""Built-in registrations of reid-eval, through the same hooks as third-party plugins."""

from __future__ import annotations
