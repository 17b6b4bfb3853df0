"""Every error lives in :mod:`imkerutils.errors`, is listed there and drawn in its docstring tree (issue 18 point 4)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import imkerutils
import imkerutils.errors as errors

PACKAGE = Path(imkerutils.__file__).parent


def _all_imker_errors() -> set[type[errors.ImkerError]]:
    seen: set[type[errors.ImkerError]] = set()
    todo: list[type[errors.ImkerError]] = [errors.ImkerError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    return seen


def _import_every_module() -> None:
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="imkerutils."):
        if info.name.endswith(".__main__"):  # runs a program when imported
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional dependency (an extra) that is not installed here
            continue


def test_every_imker_error_subclass_is_defined_in_errors() -> None:
    _import_every_module()
    elsewhere = sorted(
        f"{c.__module__}.{c.__qualname__}" for c in _all_imker_errors() if c.__module__ != errors.__name__
    )
    assert elsewhere == []


def test_no_module_defines_an_error_class_from_source() -> None:
    """The same check read from the source, so a module whose optional dependency is missing is covered too."""
    names = set(errors.__all__)
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
                if bases & names:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert found == []


def test_all_lists_exactly_the_error_classes() -> None:
    defined = {n for n, v in vars(errors).items() if inspect.isclass(v) and issubclass(v, errors.ImkerError)}
    assert set(errors.__all__) == defined
    assert errors.__all__ == sorted(errors.__all__)


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_inherits_a_builtin_and_is_drawn_under_its_parent(name: str) -> None:
    cls = getattr(errors, name)
    assert cls.__doc__
    if cls is not errors.ImkerError:
        assert any(not issubclass(b, errors.ImkerError) for b in cls.__mro__[1:-1] if b is not Exception), name
    doc = errors.__doc__ or ""
    lines = doc.splitlines()
    (row,) = [i for i, line in enumerate(lines) if re.search(rf"(── |^    ){name}\b", line)]
    if cls is errors.ImkerError:
        return
    # the parent is the nearest line above that is one level shallower
    depth = lines[row].index(name)
    parent = next(
        lines[i] for i in range(row - 1, -1, -1) if re.search(r"\w", lines[i]) and _name_col(lines[i]) < depth
    )
    assert parent.strip().lstrip("│├└─ ").split()[0] == cls.__bases__[0].__name__


def _name_col(line: str) -> int:
    match = re.search(r"[A-Za-z]", line)
    assert match
    return match.start()


def test_generators_refuse_bad_settings_with_our_error() -> None:
    from imkerutils.exquisite.api.mock import MockGenerator

    with pytest.raises(errors.InvalidGeneratorParamsError):
        MockGenerator(noise=65)


def test_no_module_but_errors_lists_an_error_in_its_all() -> None:
    """Errors are imported from ``imkerutils.errors``; no other module re-exports one (once nine modules did)."""
    _import_every_module()
    names = set(errors.__all__)
    listed = {
        name: sorted(names & set(getattr(module, "__all__", ())))
        for name, module in sys.modules.items()
        if name.startswith("imkerutils.") and name != "imkerutils.errors"
    }
    assert {name: found for name, found in listed.items() if found} == {}


def test_the_package_imports_every_error_from_errors() -> None:
    """Inside ``imkerutils`` an error class is imported from ``imkerutils.errors``, never through another module."""
    names = set(errors.__all__)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("imkerutils."):
                if node.module == "imkerutils.errors":
                    continue
                found += [
                    f"{path.relative_to(PACKAGE)}:{node.lineno} {a.name} from {node.module}"
                    for a in node.names
                    if a.name in names
                ]
    assert found == []
