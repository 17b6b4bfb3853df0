"""Sessions: tests, lint, typecheck, bench, docs, lock.  The README's commands call the same things.

Every session installs from the lock, ``requirements/constraints.txt`` (exact versions for every extra), so no
session makes pip resolve: ``nox -s lock`` (or ``bash scripts/lock.sh``) refreshes it after pyproject.toml changes.
Environments are made by uv when it is installed, else by virtualenv with pip; uv is told where pip takes packages
from on this machine (``scripts/pip_sources.py``).
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"

HERE = pathlib.Path(__file__).parent
CONSTRAINTS = "requirements/constraints.txt"


@functools.cache
def _uv_environment() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("pip_sources", HERE / "scripts" / "pip_sources.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.uv_environment()


def install(session: nox.Session, *args: str) -> None:
    """``pip install`` / ``uv pip install`` of ``args`` at the lock's versions."""
    env = _uv_environment() if session.venv_backend == "uv" else None
    session.install("-c", CONSTRAINTS, *args, env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, as CI runs it (derandomised Hypothesis when CI is set)."""
    install(session, "-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    install(session, "ruff")
    session.run("ruff", "check", "imkerutils", "tests", "benchmarks")


@nox.session
def typecheck(session: nox.Session) -> None:
    install(session, "-e", ".[test]", "mypy")
    session.run("mypy", "imkerutils")


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory targets; results are written up in docs/benchmarks.md.

    ``nox -s bench -- --quick`` runs a fast smoke version of each benchmark. The pyvips baseline runs over
    Debian's libvips, which ``scripts/install-bench-deps.sh`` installs (needs root or sudo, else it is skipped).
    """
    install(session, "-e", ".[bench]")
    session.run("bash", "scripts/install-bench-deps.sh", external=True)
    for script in sorted(pathlib.Path("benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The site (Sphinx + MyST) into build/docs/html, warnings as errors; .ci/run runs the same build.

    The tutorial's pictures are made by ``docs/_scripts/make_pictures.py`` when one is missing (they are
    committed; ``python docs/_scripts/make_pictures.py --force`` remakes them). Extra arguments go to sphinx-build.
    """
    install(session, "-e", ".[docs]")
    session.run("python", "docs/_scripts/make_pictures.py")
    session.run(
        "python", "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "docs", "build/docs/html", *session.posargs
    )


@nox.session
def lock(session: nox.Session) -> None:
    """Refresh requirements/constraints.txt from pyproject.toml with uv (``-- --upgrade`` for newest releases)."""
    install(session, "uv")
    session.run("bash", "scripts/lock.sh", *session.posargs, external=True)
