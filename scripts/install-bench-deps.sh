#!/usr/bin/env bash
# What the benchmarks need beyond the package and its bench extra (installed from the lock by `nox -s bench`):
# Debian's libvips under the pyvips binding, the TIFF baseline of benchmarks/bench_export.py. The PyPI pyvips-binary
# wheel is not used: its libtiff has no zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-install.sh
if ! ldconfig -p 2>/dev/null | grep -q 'libvips\.so\.42' && ! apt_install libvips42; then
  echo "install-bench-deps: libvips is missing and cannot be installed without root;" \
       "the TIFF benchmark will compare with tifffile only" >&2
fi
