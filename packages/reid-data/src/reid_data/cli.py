"""``reid data``: check a dataset layout against the official statistics, write synthetic data.

The runner's ``reid data ...`` delegates here; ``python -m reid_data ...`` works standalone.
Exit codes: 0 success, 1 ``--strict`` and the statistics differ from the official ones,
2 wrong or missing layout / unknown dataset / bad option.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

__all__ = ["main"]


def _parse_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"option {text!r} is not KEY=VALUE")
    key, value = text.split("=", 1)
    low = value.lower()
    parsed: Any = value
    if low in ("true", "false"):
        parsed = low == "true"
    elif low in ("none", "null"):
        parsed = None
    else:
        try:
            parsed = int(value)
        except ValueError:
            pass
    return key.strip().replace("-", "_"), parsed


EXAMPLES = """examples:
  reid data list
  reid data check market1501 --root ~/data [--json] [--strict]
  reid data check msmt17 --root ~/data -o version=v2
  reid data synth --out demo-data --style target --ids 50

'reid data COMMAND --help' describes a command's options."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reid data", description="Datasets: check layouts, write synthetic data.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", title="commands")

    lst = sub.add_parser("list", help="list the registered datasets")
    lst.add_argument("-p", "--plugin", action="append", default=[], metavar="NAME",
                     help="also list this plugin's datasets (repeatable)")

    check = sub.add_parser("check", help="count images/ids/cameras per split and compare with "
                                         "the official statistics")
    check.add_argument("name", metavar="NAME", help="dataset key, e.g. market1501")
    check.add_argument("--root", required=True, help="data root (any of the three conventions)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument("-o", "--option", action="append", default=[], type=_parse_option,
                       metavar="KEY=VALUE", help="dataset option, e.g. version=v2 (repeatable)")
    check.add_argument("-p", "--plugin", action="append", default=[], metavar="NAME",
                       help="also load this plugin's datasets (repeatable)")
    check.add_argument("--strict", action="store_true",
                       help="exit 1 when the statistics differ from the official ones")

    synth = sub.add_parser("synth", help="write the built-in synthetic re-ID data")
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--style", choices=("source", "target"), default="source")
    synth.add_argument("--modality", choices=("rgb", "rgb-ir"), default="rgb")
    synth.add_argument("--ids", type=int, default=None, help="number of identities")
    synth.add_argument("--seed", type=int, default=0)
    return parser


def _fmt(value: int | None) -> str:
    return "-" if value is None else str(value)


def _report(name: str, root: str, ds: Any) -> dict[str, Any]:
    from reid_data.base import split_stats

    official = ds.official_stats
    mismatches = ds.compare_official()
    return {
        "dataset": name,
        "root": root,
        "splits": ds.stats(),
        "extra_splits": {k: split_stats(v) for k, v in ds.extra_splits.items()},
        "dataset_dir": str(ds.dataset_dir),
        "layout": ds.layout,
        "has_camids": ds.has_camids,
        "camid_base": ds.camid_base,
        "official": official,
        "matches_official": None if not official else not mismatches,
        "mismatches": mismatches,
        "notes": list(ds.notes),
    }


def _print_text(rep: dict[str, Any]) -> None:
    print(f"dataset {rep['dataset']}: {rep['dataset_dir']} (layout {rep['layout']})")
    official = rep["official"] or {}
    rows = [(k, v, False) for k, v in rep["splits"].items()]
    rows += [(k, v, True) for k, v in rep["extra_splits"].items() if k not in rep["splits"]]
    print(f"  {'split':<26} {'images':>8} {'ids':>6} {'cameras':>8}   official images/ids/cameras")
    for split, st, _extra in rows:
        off = official.get(split)
        off_s = "/".join(_fmt(off.get(f)) for f in ("images", "ids", "cameras")) if off else ""
        print(f"  {split:<26} {st['images']:>8} {st['ids']:>6} {st['cameras']:>8}   {off_s}")
    if not rep["has_camids"]:
        print("  cameras: unknown (the same-camera evaluation rule cannot be applied)")
    for note in rep["notes"]:
        print(f"  note: {note}")
    if rep["matches_official"] is None:
        print("  official statistics: unknown for this dataset")
    elif rep["matches_official"]:
        print("  matches the official statistics")
    else:
        print("  MISMATCH with the official statistics:")
        for m in rep["mismatches"]:
            print(f"    {m}")


def _check(args: argparse.Namespace) -> int:
    from reid_data.registry import create_dataset
    from reid_plugin import PluginError, make_plugin_manager

    def fail(message: str) -> int:
        if args.json:
            print(json.dumps({"dataset": args.name, "root": args.root, "error": message}))
        print(f"reid data check: error: {message}", file=sys.stderr)
        return 2

    try:
        pm = make_plugin_manager(args.plugin)
        ds = create_dataset(args.name, args.root, pm, **dict(args.option))
    except (FileNotFoundError, PluginError, ValueError, TypeError) as exc:
        return fail(str(exc))
    rep = _report(args.name, args.root, ds)
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        _print_text(rep)
    return 1 if args.strict and rep["mismatches"] else 0


def _synth(args: argparse.Namespace) -> int:
    from reid_data.synth import synthesize

    kwargs: dict[str, Any] = {"style": args.style, "modality": args.modality, "seed": args.seed}
    if args.ids is not None:
        kwargs["ids"] = args.ids
    start = time.perf_counter()
    result = synthesize(args.out, **kwargs)
    elapsed = time.perf_counter() - start
    where = result if result is not None else args.out
    print(f"wrote synthetic {args.style} {args.modality} data to {where} in {elapsed:.1f} s")
    return 0


def _list(args: argparse.Namespace) -> int:
    from reid_data.registry import dataset_registry
    from reid_plugin import make_plugin_manager

    reg = dataset_registry(make_plugin_manager(args.plugin))
    for name in reg.names():
        doc = (reg.get(name).__doc__ or "").strip().splitlines()
        print(f"{name:<14} {doc[0] if doc else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``reid data`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: return the code instead of exiting
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:  # bare `reid data`: say what the commands are
        parser.print_help(sys.stderr)
        return 2
    handler = {"check": _check, "synth": _synth, "list": _list}[args.command]
    return handler(args)
