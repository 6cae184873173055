"""Built-in registrations of reid-data, through the same hooks as third-party plugins."""

from __future__ import annotations
