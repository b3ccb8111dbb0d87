#!/usr/bin/env bash
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
if [ ! -x .venvs/pybkt-compiled/bin/python ]; then
  python3 -m venv .venvs/pybkt-compiled
  .venvs/pybkt-compiled/bin/pip install -q "numpy<2.4" "scikit-learn<1.8" pandas psutil wheel "setuptools<70"
  .venvs/pybkt-compiled/bin/pip install -q --no-build-isolation --no-binary pyBKT pyBKT==1.4.3
fi
for flavour in wheel compiled; do
  .venvs/pybkt-$flavour/bin/python -c "
import pyBKT.models, pyBKT.fit.EM_fit as em
print('$flavour', pyBKT.__file__, 'compiled' if 'cython' in str(em).lower() or hasattr(em, '__file__') and em.__file__.endswith('.so') else em.__file__)"
done
