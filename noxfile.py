"""Sessions: tests, lint, typecheck, bench.  The README's commands call the same things."""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, as CI runs it (derandomised Hypothesis when CI is set)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "imkerutils", "tests", "benchmarks")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "imkerutils")


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory targets; results are written up in docs/benchmarks.md.

    ``nox -s bench -- --quick`` runs a fast smoke version of each benchmark. The pyvips baseline comes
    from ``scripts/install-bench-deps.sh`` (Debian's libvips; needs root or sudo, else it is skipped).
    """
    session.install("-e", ".[bench]")
    session.run("bash", "scripts/install-bench-deps.sh", external=True)
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
