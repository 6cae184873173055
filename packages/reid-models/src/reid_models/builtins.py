"""Built-in registrations of reid-models, through the same hooks as third-party plugins."""

from __future__ import annotations
