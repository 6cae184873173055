"""The ``reid`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _cmd_plugins(args: argparse.Namespace) -> int:
    from reid_plugin import describe_plugins

    infos = describe_plugins()
    if args.json:
        print(json.dumps({"plugins": [i.as_dict() for i in infos]}, indent=2))
        return 0
    rows = [("NAME", "KIND", "DISTRIBUTION", "VERSION", "HOOKS")]
    for i in infos:
        hooks = ", ".join(i.hooks) if i.error is None else f"ERROR: {i.error}"
        rows.append((i.name, i.kind, i.distribution, i.version, hooks))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4])
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from reid_data.cli import main as data_main

    return data_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list installed plugins, versions and the hooks they implement")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plugins)
    p = sub.add_parser("data", help="dataset tools: check a layout, generate synthetic data",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
