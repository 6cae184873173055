"""Errors raised by reid-models. Every message names the file, key or name at fault."""

from __future__ import annotations

from reid_plugin.errors import PluginError
from reid_plugin.errors import UnknownNameError as UnknownNameError


class PretrainedWeightsNotFoundError(PluginError, FileNotFoundError):
    """A weights file is absent: names the file expected and the directory to put it in."""

    def __init__(self, what: str, expected: str, directory: str, hint: str = "") -> None:
        self.expected = expected
        self.directory = directory
        msg = (
            f"Pretrained weights for {what} not found: expected {expected!r} in {directory!r}. "
            "Nothing is downloaded; place the file there (or pass pretrained=<path to the file>)."
        )
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


class WeightsMismatchError(PluginError, RuntimeError):
    """``strict=True`` loading found missing, unexpected or shape-mismatched keys."""


class WeightsFormatError(PluginError, ValueError):
    """A weights file could not be read as a state dict (the message names the file)."""
