#!/usr/bin/env bash
# What the benchmarks need beyond the package and its test extra: pyvips over Debian's libvips, the TIFF baseline of
# benchmarks/bench_export.py. The PyPI pyvips-binary wheel is not used: its libtiff has no zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ldconfig -p 2>/dev/null | grep -q 'libvips\.so\.42'; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvips42 >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvips42 >/dev/null
  else
    echo "install-bench-deps: libvips is missing and cannot be installed without root;" \
         "the TIFF benchmark will compare with tifffile only" >&2
    exit 0
  fi
fi
python -m pip install -q pyvips
