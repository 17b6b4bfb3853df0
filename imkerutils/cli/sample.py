"""``imkerutils sample [OUT]``: copy the bundled sample image (CC0) to a folder of yours."""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_command, emit
from imkerutils.errors import CanvasExistsError

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``sample`` command to the subcommand parsers ``sub``."""
    p = add_command(sub, "sample", help="write the bundled 1024x1024 sample landscape to OUT")
    p.add_argument("out", nargs="?", default="landscape.jpg", help="where to write it (default ./landscape.jpg)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils sample`` with the parsed ``args``; return the exit status."""
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise CanvasExistsError(f"{out} already exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with as_file(files("imkerutils") / "data" / "samples" / "landscape.jpg") as src:
        shutil.copyfile(src, out)
    emit(args, f"wrote {out}", {"output": str(out)})
    return 0
