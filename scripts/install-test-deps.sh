#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine: the package with its test extra at the lock's versions
# (requirements/constraints.txt; `bash scripts/lock.sh` refreshes it), Debian's Chromium for the browser tests
# (Playwright drives /usr/bin/chromium; its own browser download needs the open internet), and Debian's libvips
# under the pyvips binding (libvips reads our TIFFs back; PyPI's pyvips-binary has no zstd).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-install.sh
python -m pip install -q -c requirements/constraints.txt -e ".[test]"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvips\.so\.42' || missing+=(libvips42)
if [ "${#missing[@]}" -gt 0 ] && ! apt_install "${missing[@]}"; then
  echo "install-test-deps: cannot install ${missing[*]} without root:" \
       "browser tests fail without chromium, libvips checks are skipped without libvips42" >&2
fi
