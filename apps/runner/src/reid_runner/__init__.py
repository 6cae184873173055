"""reid-runner: the ``reid`` command line that composes plugins into runs."""

from reid_runner._version import __version__ as __version__
from reid_runner.checkpoint import CheckpointError as CheckpointError
from reid_runner.config import ConfigError as ConfigError
from reid_runner.config import MethodConfig as MethodConfig
from reid_runner.config import RunConfig as RunConfig
from reid_runner.context import RunInfo as RunInfo
from reid_runner.context import StageContext as StageContext
from reid_runner.engine import RunError as RunError
from reid_runner.engine import load_network as load_network
from reid_runner.engine import read_model_artifact as read_model_artifact
from reid_runner.engine import save_model_artifact as save_model_artifact
from reid_runner.method import Method as Method
from reid_runner.run import execute as execute
from reid_runner.run import prepare as prepare
from reid_runner.run import raw_config as raw_config
