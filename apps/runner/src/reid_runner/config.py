"""Run configuration: YAML files, dotted ``key=value`` overrides, typed and validated sections.

A configuration is a mapping with fixed top-level sections (``run``, ``data``, ``model``,
``stages``) plus the sections plugins add through ``reid_add_config_sections``. Every section is a
dataclass; each stage is validated by the ``Config`` dataclass of its method (a subclass of
:class:`MethodConfig`). Unknown keys are errors that suggest the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# --------------------------------------------------------------------------- errors


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the dotted key."""


def _suggest(key: str, choices: Sequence[str]) -> str:
    match = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.5)
    hint = f" Did you mean {match[0]!r}?" if match else ""
    return f"{hint} Valid keys: {', '.join(sorted(choices))}"


# --------------------------------------------------------------------------- sections


@dataclass
class RunSection:
    """``run``: identity of the run, where it writes, and process-wide switches."""

    #: Run name; the run directory is ``<out_dir>/<name>``.
    name: str = "run"
    #: Folder holding run directories.
    out_dir: str = "runs"
    #: Base seed; a stage may override it with its own ``seed``.
    seed: int = 1
    #: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
    device: str = "auto"
    #: Plugin entry-point names to load, in order (nothing is auto-loaded).
    plugins: list[str] = field(default_factory=list)
    #: Mixed precision on GPU: ``none``, ``bf16`` or ``fp16`` (ignored on CPU).
    amp: str = "none"
    #: ``torch.use_deterministic_algorithms`` and no cudnn autotuning.
    deterministic: bool = True
    #: Write a resumable checkpoint every N iterations (0: only at the end of each epoch).
    checkpoint_every: int = 0
    #: Log a training line every N iterations (0: only per epoch).
    log_every: int = 50
    #: Show a progress bar on the main rank.
    progress: bool = True
    #: Distributed backend (``auto``: nccl on CUDA, gloo on CPU).
    backend: str = "auto"
    #: CPU intra-op threads of each process (0: torch's default, one per core). Use 1 on a
    #: machine other jobs keep busy: OpenMP threads that wait for a taken core make small CPU
    #: steps several times slower.
    threads: int = 0

    def validate(self, where: str) -> None:
        if self.threads < 0:
            raise ConfigError(f"{where}.threads: {self.threads!r} must be >= 0 (0: torch's default)")
        if self.amp not in ("none", "bf16", "fp16"):
            raise ConfigError(f"{where}.amp: {self.amp!r} is not one of none, bf16, fp16")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"{where}.device: {self.device!r} is not auto, cpu, cuda or cuda:N")
        if self.backend not in ("auto", "gloo", "nccl"):
            raise ConfigError(f"{where}.backend: {self.backend!r} is not auto, gloo or nccl")
        if not self.name or "/" in self.name:
            raise ConfigError(f"{where}.name: {self.name!r} must be a non-empty folder name")


@dataclass
class DataSection:
    """``data``: datasets, image size and batch composition shared by every stage."""

    #: Folder with the datasets (any of the three root conventions).
    root: str = "data"
    #: Source dataset name (labelled), e.g. ``market1501``; empty for fully unsupervised runs.
    source: str = ""
    #: Target dataset name (unlabelled for training).
    target: str = ""
    #: Folder of the source dataset when it differs from ``root``.
    source_root: str = ""
    #: Folder of the target dataset when it differs from ``root``.
    target_root: str = ""
    #: Options passed to the source dataset constructor.
    source_options: dict[str, Any] = field(default_factory=dict)
    #: Options passed to the target dataset constructor.
    target_options: dict[str, Any] = field(default_factory=dict)
    height: int = 256
    width: int = 128
    #: Global training batch size (all processes together).
    batch_size: int = 64
    #: Images per identity in P x K batches (K); P = batch_size / K.
    num_instances: int = 4
    #: Batch-norm batch: images normalised together, the same whatever the number of processes.
    #: 0 means the whole global batch (one BN group).
    bn_batch: int = 0
    #: Batch size of feature extraction.
    test_batch_size: int = 128
    #: DataLoader worker processes per rank.
    workers: int = 4

    def validate(self, where: str) -> None:
        for key in ("height", "width", "batch_size", "test_batch_size"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{where}.{key}: must be positive, got {getattr(self, key)}")
        if self.num_instances < 0 or (self.num_instances and self.batch_size % self.num_instances):
            raise ConfigError(
                f"{where}.num_instances: {self.num_instances} must divide batch_size "
                f"{self.batch_size} (P x K batches)"
            )
        if self.bn_batch < 0 or (self.bn_batch and self.batch_size % self.bn_batch):
            raise ConfigError(
                f"{where}.bn_batch: {self.bn_batch} must divide batch_size {self.batch_size}"
            )
        if self.workers < 0:
            raise ConfigError(f"{where}.workers: must be >= 0")


@dataclass
class ModelSection:
    """``model``: the re-ID network every training stage builds (methods may add more)."""

    #: Backbone name of reid-models (``resnet50``, ``resnet50_ibn_a``, ...).
    arch: str = "resnet50"
    #: Load ImageNet weights (a missing weight file is an error saying where to put it).
    pretrained: bool = True
    #: Extra keyword options of ``reid_models.create_model`` (e.g. ``dropout``, ``pooling``).
    options: dict[str, Any] = field(default_factory=dict)

    def validate(self, where: str) -> None:
        if not self.arch:
            raise ConfigError(f"{where}.arch: must name a backbone")


@dataclass
class MethodConfig:
    """Keys every stage accepts; a method's ``Config`` subclasses this and adds its own.

    Method configs set their own defaults by overriding fields (e.g. ``epochs: int = 80``).
    """

    #: Name of the method (registered through ``reid_register_methods``).
    method: str = ""
    #: Seed of this stage (``None``: ``run.seed``).
    seed: int | None = None
    #: Input artifacts by role: ``{"init": "pretrain1.model"}``; a value is an artifact name
    #: ``<stage>.<artifact>`` of an earlier stage or a path to a file.
    inputs: dict[str, str] = field(default_factory=dict)
    #: Number of epochs.
    epochs: int = 1
    #: Iterations per epoch (an epoch is a fixed number of iterations, METHODS §0.3).
    iters: int = 100
    #: Evaluate every N epochs (0: only after the last epoch).
    eval_every: int = 0
    #: Datasets evaluated during training: ``source``, ``target`` or dataset names.
    eval_on: list[str] = field(default_factory=lambda: ["target"])
    #: Model selection: ``last`` (the last epoch) or ``val`` (best mAP on the labelled validation
    #: split of the first ``eval_on`` dataset, validated every ``eval_every`` epochs, or every
    #: epoch when ``eval_every`` is 0; an error if it has none). Never the test set.
    select: str = "last"

    def validate(self, where: str) -> None:
        if self.epochs < 0 or self.iters < 0:
            raise ConfigError(f"{where}: epochs and iters must be >= 0")
        if self.eval_every < 0:
            raise ConfigError(f"{where}.eval_every: must be >= 0")
        if self.select not in ("last", "val"):
            raise ConfigError(f"{where}.select: {self.select!r} is not 'last' or 'val'")


# --------------------------------------------------------------------------- the whole config

#: Built-in top-level sections.
CORE_SECTIONS: dict[str, type] = {"run": RunSection, "data": DataSection, "model": ModelSection}


@dataclass
class RunConfig:
    """A validated run configuration."""

    run: RunSection
    data: DataSection
    model: ModelSection
    #: Stages in execution order, by stage name.
    stages: dict[str, MethodConfig]
    #: Plugin sections (from ``reid_add_config_sections``), by name.
    extra: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        """A top-level section by name (core or plugin)."""
        if name in CORE_SECTIONS:
            return getattr(self, name)
        if name not in self.extra:
            raise ConfigError(f"no config section {name!r}." + _suggest(name, self.sections()))
        return self.extra[name]

    def sections(self) -> list[str]:
        return [*CORE_SECTIONS, "stages", *self.extra]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: dataclasses.asdict(getattr(self, k)) for k in CORE_SECTIONS}
        for k, v in self.extra.items():
            out[k] = dataclasses.asdict(v)
        out["stages"] = {k: dataclasses.asdict(v) for k, v in self.stages.items()}
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# --------------------------------------------------------------------------- raw handling


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file; the error names the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {p}: top level must be a mapping, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], value parsed as YAML)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form dotted.key=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return [k for k in key.strip().split(".")], parsed


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply dotted overrides to a raw config mapping (creating intermediate mappings)."""
    out = _deepcopy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for i, k in enumerate(keys[:-1]):
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(
                    f"override {text!r}: {'.'.join(keys[: i + 1])} is a value, not a section"
                )
            node = nxt
        node[keys[-1]] = value
    return out


def _deepcopy(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _deepcopy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_deepcopy(v) for v in x]
    return x


# --------------------------------------------------------------------------- typed building


def build_section(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a raw mapping, checking keys and types."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__} {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"unknown config key {where}.{key}." + _suggest(str(key), fields))
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate(where)
    return obj


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if dataclasses.is_dataclass(tp):
        return build_section(tp, value, where)
    if origin in (list, tuple, Sequence):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            if origin is list and not isinstance(value, (list, tuple)):
                value = [value]  # a scalar override for a list key: a one-element list
            else:
                raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        inner = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, inner, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 3.5e-4 as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def build_config(
    raw: Mapping[str, Any],
    method_configs: Mapping[str, type[MethodConfig]],
    plugin_sections: Mapping[str, type] | None = None,
) -> RunConfig:
    """Validate a raw mapping into a :class:`RunConfig`.

    :param method_configs: method name -> its ``Config`` dataclass (from the method registry).
    :param plugin_sections: extra top-level sections (from ``reid_add_config_sections``).
    """
    plugin_sections = dict(plugin_sections or {})
    valid = [*CORE_SECTIONS, "stages", *plugin_sections]
    for key in raw:
        if key not in valid:
            raise ConfigError(f"unknown config section {key!r}." + _suggest(str(key), valid))
    core = {k: build_section(cls, raw.get(k), k) for k, cls in CORE_SECTIONS.items()}
    extra = {k: build_section(cls, raw.get(k), k) for k, cls in plugin_sections.items()}
    stages_raw = raw.get("stages") or {}
    if not isinstance(stages_raw, Mapping):
        raise ConfigError("stages: expected a mapping of stage name -> stage settings")
    stages: dict[str, MethodConfig] = {}
    for sname, sraw in stages_raw.items():
        where = f"stages.{sname}"
        if not isinstance(sraw, Mapping):
            raise ConfigError(f"{where}: expected a mapping with at least 'method'")
        mname = sraw.get("method")
        if not mname:
            choices = ", ".join(sorted(method_configs))
            raise ConfigError(f"{where}.method: missing; choices: {choices}")
        if mname not in method_configs:
            raise ConfigError(
                f"{where}.method: unknown method {mname!r}."
                + _suggest(str(mname), list(method_configs)).replace("Valid keys", "Choices")
                + " (is the plugin that provides it listed in run.plugins?)"
            )
        cls = method_configs[mname]
        stages[str(sname)] = build_section(cls, sraw, where)
    if not stages:
        raise ConfigError("stages: a run needs at least one stage")
    return RunConfig(stages=stages, extra=extra, **core)
