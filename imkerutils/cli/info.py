"""``imkerutils info CANVAS [--json]``: bounds, mode, tiles written, size on disk."""

from __future__ import annotations

import argparse
import json

from imkerutils.tiling import Canvas


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a canvas")
    p.add_argument("canvas")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    s = Canvas.open(args.canvas, read_only=True).summary()
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
        return 0
    b = s["bounds"]
    print(f"canvas     {s['path']}")
    print(f"mode       {s['mode']}")
    print(f"size       {b['width']} x {b['height']} px")
    print(f"bounds     x {b['col_off']}..{b['col_off'] + b['width']}, y {b['row_off']}..{b['row_off'] + b['height']}")
    print(f"tiles      {s['tiles_written']} written ({s['tile']} px)")
    print(f"steps      {s['steps']} ({s['redoable']} redoable)")
    print(f"on disk    {s['bytes_on_disk']:,} bytes")
    return 0
