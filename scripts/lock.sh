#!/usr/bin/env bash
# Refresh requirements/constraints.txt: the exact versions that every install of this project uses (the README's
# commands, .ci/run through scripts/install-test-deps.sh, and every nox session), resolved by uv from
# pyproject.toml for all extras (test, bench, dev, s3, obstore, ui) and every platform, Python 3.11 and newer.
#
#   bash scripts/lock.sh                         # after editing pyproject.toml: keeps the pins, adds what is new
#   bash scripts/lock.sh --upgrade               # every package to its newest allowed release
#   bash scripts/lock.sh --upgrade-package zarr  # one package (and what it needs)
#
# uv takes packages from where pip does on this machine (scripts/pip_sources.py reads pip's configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python -m pip install -q uv
fi
eval "$(python scripts/pip_sources.py)"
uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 --quiet \
  --no-emit-find-links --custom-compile-command "bash scripts/lock.sh" \
  -o requirements/constraints.txt "$@"
