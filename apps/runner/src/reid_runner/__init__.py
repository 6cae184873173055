"""reid-runner: the ``reid`` command line that composes plugins into runs."""

from reid_runner._version import __version__ as __version__
