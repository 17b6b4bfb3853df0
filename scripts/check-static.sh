#!/usr/bin/env bash
# The static checks, run before the tests by the README's test command and .ci/run (and by pre-commit):
# lint, formatting and `mypy --strict` (pyproject.toml's [tool.mypy] sets strict = true).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m ruff check imkerutils tests benchmarks noxfile.py docs scripts
python -m ruff format --check .
python -m mypy imkerutils
