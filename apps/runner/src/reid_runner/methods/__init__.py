"""Built-in methods of the runner (registered through ``reid_register_methods``)."""

from reid_runner.methods.evaluate import Evaluate as Evaluate
from reid_runner.methods.evaluate import EvaluateConfig as EvaluateConfig
from reid_runner.methods.pretrain import Pretrain as Pretrain
from reid_runner.methods.pretrain import PretrainConfig as PretrainConfig
from reid_runner.methods.pretrain import warmup_multistep as warmup_multistep
