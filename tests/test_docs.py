"""The docs site's cheap checks (issue 18, points 5 and 7); CI's docs step builds the whole site with -W.

The CLI reference is generated from the parsers, so it covers every subcommand; every page of ``docs/`` is in a
toctree; help texts name no model the provider has shut down.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / "_scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cli_reference() -> ModuleType:
    return _load("cli_reference")


def _subcommand_names(parser: argparse.ArgumentParser) -> set[str]:
    return {
        name for action in parser._actions if isinstance(action, argparse._SubParsersAction) for name in action.choices
    }


def test_the_cli_reference_has_a_section_for_every_subcommand_and_script(cli_reference: ModuleType) -> None:
    from imkerutils.cli.main import build_parser

    subcommands = _subcommand_names(build_parser())
    assert {"grow", "export", "verify", "completion"} <= subcommands
    text = cli_reference.render_rst()
    titles = set(re.findall(r"^(\S.*)\n-+\n", text, flags=re.MULTILINE))
    assert titles == {"imkerutils"} | {f"imkerutils {name}" for name in subcommands} | {"extract-tile", "paste-tile"}


def test_the_cli_reference_lists_every_option_with_its_help(cli_reference: ModuleType) -> None:
    from imkerutils.cli.main import build_parser

    text = cli_reference.render_rst()
    grow = build_parser()._subparsers._group_actions[0].choices["grow"]  # type: ignore[union-attr]
    section = text.split("\nimkerutils grow\n", 1)[1].split("\nimkerutils fill\n", 1)[0]
    for action in grow._actions:
        for option in action.option_strings:
            assert f"``{option}" in section or f", {option}" in section, option
    assert "edge to grow (repeat for several" in section


def test_the_script_parser_is_taken_without_running_the_script(cli_reference: ModuleType, tmp_path: Path) -> None:
    from imkerutils.cli.tile_scripts import extract_tile_main

    parser = cli_reference.script_parser(extract_tile_main)
    assert parser.prog == "extract-tile"
    assert argparse.ArgumentParser.parse_args.__name__ == "parse_args"  # restored
    assert {"--x", "--y", "--corner"} <= {o for a in parser._actions for o in a.option_strings}


def _toctree_entries(page: Path) -> set[str]:
    entries: set[str] = set()
    for block in re.findall(r"```\{toctree\}\n(.*?)```", page.read_text(), flags=re.DOTALL):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                entries.add(str((page.parent / line).relative_to(DOCS)))
    return entries


def test_every_docs_page_is_in_a_toctree() -> None:
    pages = {
        str(p.relative_to(DOCS).with_suffix(""))
        for p in DOCS.rglob("*")
        if p.suffix in {".md", ".rst"} and not any(part.startswith(("_", ".")) for part in p.relative_to(DOCS).parts)
    }
    listed: set[str] = set()
    for page in DOCS.rglob("*.md"):
        listed |= _toctree_entries(page)
    assert "index" in pages
    assert pages - {"index"} == listed


def test_the_tutorial_pictures_exist_and_are_small() -> None:
    from PIL import Image

    for name, size in (("before.png", (256, 256)), ("after.png", (384, 384))):
        path = DOCS / "_static" / "tutorial" / name
        assert path.stat().st_size < 150_000
        with Image.open(path) as im:
            assert im.size == size
        assert f"_static/tutorial/{name}" in (DOCS / "tutorial.md").read_text()


def test_model_help_names_the_default_model_and_no_shut_down_one() -> None:
    from imkerutils.cli.main import build_parser
    from imkerutils.exquisite.api.openai_ import DEFAULT_MODEL

    grow = build_parser()._subparsers._group_actions[0].choices["grow"]  # type: ignore[union-attr]
    (model,) = [a for a in grow._actions if "--model" in a.option_strings]
    assert model.help is not None
    assert f"default {DEFAULT_MODEL}" in model.help
    assert "default gpt-image-1)" not in model.help


def test_the_glossary_names_each_meaning_of_tile_and_grow() -> None:
    design = (DOCS / "design.md").read_text()
    glossary = design.split("## Glossary", 1)[1].split("\n## ", 1)[0]
    for name in ("**chunk**", "**generator tile**", "**image tile**", "**grow**", "**extend**", "**paste, extending**"):
        assert name in glossary, name


def test_the_cli_reference_is_parsed_as_restructuredtext() -> None:
    # The directive emits RST; inside a MyST page it would be parsed as Markdown (`::` and :ref: shown raw).
    assert ".. cli-reference::" in (DOCS / "reference" / "cli.rst").read_text()
    assert not (DOCS / "reference" / "cli.md").exists()
