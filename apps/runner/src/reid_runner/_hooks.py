"""A typed facade over ``pm.hook`` for the runner's own call sites (STYLE #8, tox's ``Plugin``).

``pm.hook.reid_x(...)`` accepts any keywords and returns ``Any``: a misspelt argument is silently
not passed (pluggy only passes the arguments an implementation names). Every runner call site goes
through :class:`RunnerHooks` instead, whose methods carry the hook specs' names and parameters,
keyword-only and typed; ``tests/test_hookspecs.py`` checks that the two stay in sync.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from reid_plugin import Registry
    from reid_runner.context import RunInfo, StageContext


class RunnerHooks:
    """The hooks of :mod:`reid_runner.hookspecs` called on one plugin manager."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    # ------------------------------------------------------------------ registration
    def reid_register_methods(self) -> Registry[Any]:
        """Every registered method class by ``name`` (a duplicate name raises, naming both)."""
        from reid_plugin import Registry

        return Registry.from_hook(self.pm, "reid_register_methods", "method")

    def reid_add_config_sections(self) -> dict[str, type]:
        """Plugin config sections by name; a clash with a core section or another plugin's, or a
        section that is not a dataclass, is a :class:`~reid_runner.ConfigError` naming the
        plugin."""
        from reid_runner.config import CORE_SECTIONS, ConfigError

        out: dict[str, type] = {}
        owner: dict[str, str] = {}
        reserved = {*CORE_SECTIONS, "stages"}
        for impl in self.pm.hook.reid_add_config_sections.get_hookimpls():
            for name, cls in (impl.function() or {}).items():
                if name in reserved or name in out:
                    who = owner.get(name, "the runner")
                    raise ConfigError(f"config section {name!r} of plugin {impl.plugin_name!r} "
                                      f"is already defined by {who}")
                if not dataclasses.is_dataclass(cls):
                    raise ConfigError(f"config section {name!r} of plugin {impl.plugin_name!r} "
                                      "must be a dataclass")
                out[name], owner[name] = cls, impl.plugin_name
        return out

    # ------------------------------------------------------------------ run and stages
    def reid_run_start(self, *, run: RunInfo) -> None:
        self.pm.hook.reid_run_start(run=run)

    def reid_run_finish(self, *, run: RunInfo, summary: dict[str, Any]) -> None:
        self.pm.hook.reid_run_finish(run=run, summary=summary)

    def reid_stage_start(self, *, ctx: StageContext) -> None:
        self.pm.hook.reid_stage_start(ctx=ctx)

    def reid_stage_finish(self, *, ctx: StageContext, result: dict[str, Any]) -> None:
        self.pm.hook.reid_stage_finish(ctx=ctx, result=result)

    # ------------------------------------------------------------------ epochs and iterations
    def reid_epoch_start(self, *, ctx: StageContext, epoch: int) -> None:
        self.pm.hook.reid_epoch_start(ctx=ctx, epoch=epoch)

    def reid_epoch_finish(self, *, ctx: StageContext, epoch: int,
                          metrics: dict[str, Any]) -> None:
        self.pm.hook.reid_epoch_finish(ctx=ctx, epoch=epoch, metrics=metrics)

    def reid_iteration_start(self, *, ctx: StageContext, epoch: int, iteration: int) -> None:
        self.pm.hook.reid_iteration_start(ctx=ctx, epoch=epoch, iteration=iteration)

    def reid_iteration_finish(self, *, ctx: StageContext, epoch: int, iteration: int,
                              losses: dict[str, float]) -> None:
        self.pm.hook.reid_iteration_finish(ctx=ctx, epoch=epoch, iteration=iteration,
                                           losses=losses)

    # ------------------------------------------------------------------ pseudo labels, evaluation
    def reid_pseudo_labels_finish(self, *, ctx: StageContext, epoch: int, labels: Any,
                                  telemetry: dict[str, Any]) -> None:
        self.pm.hook.reid_pseudo_labels_finish(ctx=ctx, epoch=epoch, labels=labels,
                                               telemetry=telemetry)

    def reid_evaluation_finish(self, *, ctx: StageContext, epoch: int, dataset: str, model: str,
                               metrics: dict[str, Any]) -> None:
        self.pm.hook.reid_evaluation_finish(ctx=ctx, epoch=epoch, dataset=dataset, model=model,
                                            metrics=metrics)

    # ------------------------------------------------------------------ demo
    def reid_demo_rows(self, *, demo: Any) -> list[tuple[str, list[Any]]]:
        """``(plugin name, rows)`` of every implementation, in registration order."""
        return [(impl.plugin_name, list(impl.function(demo=demo) or []))
                for impl in self.pm.hook.reid_demo_rows.get_hookimpls()]
