"""``imkerutils.tiling`` stands alone: it never imports ``imkerutils.exquisite`` (nor the UI or the CLI)."""

import ast
import subprocess
import sys
from pathlib import Path

import imkerutils.tiling

TILING = Path(imkerutils.tiling.__file__).parent
FORBIDDEN = ("imkerutils.exquisite", "imkerutils.ui", "imkerutils.cli")


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in ``path`` names, at any depth (lazy ones too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(path.relative_to(TILING.parent.parent).with_suffix("").parts[: -node.level])
            out.add(f"{base}.{node.module}" if node.module else base)
    return out


def test_no_tiling_module_names_a_higher_layer():
    sources = sorted(TILING.rglob("*.py"))
    assert len(sources) > 10
    bad = {
        str(p.relative_to(TILING)): sorted(m for m in imported_modules(p) if m.startswith(FORBIDDEN)) for p in sources
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_importing_every_tiling_module_loads_no_higher_layer():
    code = (
        "import importlib, pkgutil, sys, imkerutils.tiling as t\n"
        "for m in pkgutil.walk_packages(t.__path__, 'imkerutils.tiling.'): importlib.import_module(m.name)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
