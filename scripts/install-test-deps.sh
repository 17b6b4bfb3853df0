#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine: the package with its test extra, and Debian's Chromium
# for the browser tests (Playwright drives /usr/bin/chromium; its own browser download needs the open internet).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-install.sh
python -m pip install -q -e ".[test]"
if ! command -v chromium >/dev/null 2>&1 && ! apt_install chromium; then
  echo "install-test-deps: Chromium is missing and cannot be installed without root; browser tests will fail" >&2
fi
