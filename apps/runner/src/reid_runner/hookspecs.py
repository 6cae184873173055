"""Hook specifications of reid-runner: training methods, config sections and the run lifecycle.

Notification hooks (``*_start`` / ``*_finish``) receive the live objects of the run; they must not
change the training state unless their docstring says so. A hook that runs on every rank must not
perform collectives unless every rank's plugin set is identical (it always is in a run: every rank
rebuilds its manager from ``run.plugins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reid_plugin import hookspec

if TYPE_CHECKING:
    from reid_runner.context import RunInfo, StageContext

# --------------------------------------------------------------------------- registration


@hookspec
def reid_register_methods() -> list[type[Any]]:
    """Return training/evaluation method classes (unique ``name``: ``pretrain``, ``mmt``, ...).

    Who calls it and when: the runner's preflight, when it resolves the ``method`` of each stage
    of a run, before any data is loaded. Each class subclasses :class:`reid_runner.Method` and has a
    ``Config`` dataclass (a subclass of :class:`reid_runner.MethodConfig`) that validates its stage
    section.

    :returns: a list of classes (may be empty); duplicate names are an error naming both.

    Rank contract:
        every rank (each rank rebuilds its manager from the run's plugin names).

    .. versionadded:: 0.1
    """


@hookspec
def reid_add_config_sections() -> dict[str, type[Any]]:
    """Return top-level config sections a plugin owns: ``{"section_name": DataclassType}``.

    Who calls it and when: the runner's preflight, while validating the configuration, before any
    stage runs. Each section is a dataclass whose fields are the valid keys (unknown keys are an
    error suggesting the closest one); an optional ``validate(self, where)`` method raises
    :class:`reid_runner.ConfigError` on bad values. The validated instance is available to every
    stage as ``ctx.config.section(name)``. Stage-level settings of a method belong in its
    ``Config`` class instead.

    :returns: a mapping of section name to dataclass (may be empty). A section name used twice,
        or one of the core names (``run``, ``data``, ``model``, ``stages``), is an error.

    Rank contract:
        every rank (pure and cheap).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------- run and stages


@hookspec
def reid_run_start(run: RunInfo) -> None:
    """Notify that a run starts, after preflight and before the first stage.

    Who calls it and when: :func:`reid_runner.run.execute`, once per process, after the config has
    been validated, datasets checked and the run directory prepared (also when a run is resumed).

    :param run: the :class:`reid_runner.RunInfo` (config, run directory, rank, world size,
        plugin manager).
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


@hookspec
def reid_run_finish(run: RunInfo, summary: dict[str, Any]) -> None:
    """Notify that every stage of a run has finished.

    Who calls it and when: :func:`reid_runner.run.execute`, after the last stage, before the
    process group is destroyed.

    :param run: the :class:`reid_runner.RunInfo`.
    :param summary: ``{"stages": {stage: {"metrics": ..., "artifacts": ...}}}`` as written to
        ``summary.json``.
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


@hookspec
def reid_stage_start(ctx: StageContext) -> None:
    """Notify that a stage starts (or resumes), after its method's ``build``.

    Who calls it and when: the engine, once per stage that is not already finished, after the
    method built its networks and any checkpoint was restored.

    :param ctx: the :class:`reid_runner.StageContext` of the stage.
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


@hookspec
def reid_stage_finish(ctx: StageContext, result: dict[str, Any]) -> None:
    """Notify that a stage finished.

    Who calls it and when: the engine, after the stage's final evaluation and artifact export,
    before the stage is marked done.

    :param ctx: the stage context.
    :param result: ``{"metrics": ..., "artifacts": {name: path}, "selection": ...}``.
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------- epochs and iterations


@hookspec
def reid_epoch_start(ctx: StageContext, epoch: int) -> None:
    """Notify that a training epoch starts, after the method's ``epoch_start``.

    Who calls it and when: the engine, at the start of every epoch, after per-epoch preparation
    (pseudo-labelling, classifier re-initialisation, optimiser reset) and before the first
    iteration. Not called again when a run resumes in the middle of an epoch.

    :param ctx: the stage context (``ctx.method`` is the method instance).
    :param epoch: 0-based epoch index.
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


@hookspec
def reid_epoch_finish(ctx: StageContext, epoch: int, metrics: dict[str, Any]) -> None:
    """Notify that a training epoch finished (after its evaluation, before its checkpoint).

    Who calls it and when: the engine, at the end of every epoch.

    :param ctx: the stage context.
    :param epoch: 0-based epoch index.
    :param metrics: mean losses of the epoch (``{"loss": ..., ...}``) and, when the epoch was
        evaluated, the evaluation metrics under ``"eval"``.
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


@hookspec
def reid_iteration_start(ctx: StageContext, epoch: int, iteration: int) -> None:
    """Notify that a training iteration starts (before its batch is loaded).

    Who calls it and when: the engine, before every training iteration. Keep it cheap: it runs
    once per optimiser step.

    :param ctx: the stage context.
    :param epoch: 0-based epoch index.
    :param iteration: 0-based iteration index within the epoch.
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


@hookspec
def reid_iteration_finish(
    ctx: StageContext, epoch: int, iteration: int, losses: dict[str, float]
) -> None:
    """Notify that a training iteration finished (after the optimiser step and ``after_step``).

    Who calls it and when: the engine, after every training iteration.

    :param ctx: the stage context.
    :param epoch: 0-based epoch index.
    :param iteration: 0-based iteration index within the epoch.
    :param losses: the iteration's loss values as floats (``"loss"`` is the total).
    :returns: nothing.

    Rank contract:
        every rank.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------- labels, evaluation


@hookspec
def reid_pseudo_labels_finish(
    ctx: StageContext, epoch: int, labels: Any, telemetry: dict[str, Any]
) -> None:
    """Notify that a method produced this epoch's pseudo labels.

    Who calls it and when: :meth:`reid_runner.StageContext.report_pseudo_labels`, which methods
    call from ``epoch_start`` after clustering (and after the labels were broadcast), before
    classifiers are refreshed. The runner itself logs the telemetry and writes it to TensorBoard.

    :param ctx: the stage context.
    :param epoch: 0-based epoch index.
    :param labels: the labels of the target training images, one int per image, ``-1`` for
        outliers (a ``torch.Tensor`` or ``numpy`` array), identical on every rank.
    :param telemetry: numbers describing the labels (clusters, outliers, label churn, NMI when
        ground truth is known, timings).
    :returns: nothing.

    Rank contract:
        every rank (the labels were already broadcast); write files on ``ctx.is_main`` only.

    .. versionadded:: 0.1
    """


@hookspec
def reid_evaluation_finish(
    ctx: StageContext, epoch: int, dataset: str, model: str, metrics: dict[str, Any]
) -> None:
    """Notify that one network was evaluated on one dataset.

    Who calls it and when: the engine's evaluation (scheduled during training, the final
    evaluation of a stage, and the ``evaluate`` method), after the metrics were computed and
    logged.

    :param ctx: the stage context.
    :param epoch: 0-based epoch after which the evaluation ran (-1 outside training).
    :param dataset: ``<dataset name>/<split>`` (``test`` or ``val``).
    :param model: the evaluated network's name (e.g. ``model``, ``ema1``, ``ensemble``).
    :param metrics: ``{"mAP", "rank1", "rank5", "rank10", "mINP", "cmc"}`` plus the protocol's
        scalar results (``protocol``, ``camera_filter``, ``num_valid_queries``, VisDA's
        ``mAP_all``, ...) and ``rerank`` (False or the re-ranking parameters).
    :returns: nothing.

    Rank contract:
        rank 0 only (metrics are computed on the main rank after features are gathered).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------- demo


@hookspec
def reid_demo_rows(demo: Any) -> list[Any] | None:
    """Add rows to the table of ``reid demo``.

    Who calls it and when: the ``reid demo`` command, once, while it composes the demo run (after
    the synthetic data exist, before any stage runs). ``demo`` is a :class:`reid_runner.demo.Demo`:
    ``demo.settings`` holds the budget (``epochs``, ``iters``, image size, ...), ``demo.init``
    maps ``"1"``/``"2"`` to the artifacts of the two source pre-trainings (``pretrain1.model``,
    ``pretrain2.model``), ``demo.target_ids`` the number of identities in the target train split
    (for methods that need a cluster count; never used by methods that do not).

    :returns: a list of :class:`reid_runner.demo.DemoRow` (``name``, ``stages``: stage name ->
        stage config mapping, ``report``: the stage whose final target-test metrics fill the row),
        or ``None``. Stage names must be unique across plugins.

    Rank contract:
        main process only (the demo composes its configuration before any process group exists).

    .. versionadded:: 0.1
    """
