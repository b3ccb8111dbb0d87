#!/usr/bin/env bash
# Usage: bash bench/setup_pybkt.sh [wheel]   ("wheel": only the pure-Python one, for CI)
# Build the peer for bench/kt_vs_pybkt.py in its own virtual environments (pyBKT pins
# numpy < 2.4 and scikit-learn < 1.8, which masterypath does not use):
#   bench/.venvs/pybkt-wheel     pyBKT 1.4.3 as `pip install pyBKT` gives it (pure Python)
#   bench/.venvs/pybkt-compiled  pyBKT 1.4.3 built from source with its C++ backend
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .venvs
if [ ! -x .venvs/pybkt-wheel/bin/python ]; then
  python3 -m venv .venvs/pybkt-wheel
  .venvs/pybkt-wheel/bin/pip install -q "numpy<2.4" "scikit-learn<1.8" pandas psutil pyBKT==1.4.3
fi
if [ "${1:-all}" != "wheel" ] && [ ! -x .venvs/pybkt-compiled/bin/python ]; then
  python3 -m venv .venvs/pybkt-compiled
  .venvs/pybkt-compiled/bin/pip install -q "numpy<2.4" "scikit-learn<1.8" pandas psutil wheel "setuptools<70"
  .venvs/pybkt-compiled/bin/pip install -q --no-build-isolation --no-binary pyBKT pyBKT==1.4.3
fi
for flavour in wheel compiled; do
  [ -x .venvs/pybkt-$flavour/bin/python ] || continue
  .venvs/pybkt-$flavour/bin/python -c "
import glob, os, pyBKT
so = glob.glob(os.path.join(os.path.dirname(pyBKT.__file__), 'fit', '*.so'))
print('pyBKT ($flavour):', 'C++ backend' if so else 'pure Python')"
done
