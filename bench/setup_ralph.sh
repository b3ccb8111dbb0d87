#!/usr/bin/env bash
# Usage: bash bench/setup_ralph.sh
# Build the peer of bench/ingest_load.py, the ralph LRS (ralph-malph 5.1.0 with its LRS and
# CLI extras), in its own virtual environment: its extras pin FastAPI 0.114 and cannot
# live beside masterypath's stack.   -> bench/.venvs/ralph
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .venvs
if [ ! -x .venvs/ralph/bin/ralph ]; then
  python3 -m venv .venvs/ralph
  # requests: ralph's OIDC module imports it even with basic authentication
  .venvs/ralph/bin/pip install -q "ralph-malph[lrs,cli]==5.1.0" requests
fi
# ralph 5.1.0's file backend writes with operation CREATE, which refuses any write once its
# file exists: every statement after the first request is a 500. The one change made to the
# peer: its default write operation becomes APPEND (loaded at start-up through a .pth file).
site=$(.venvs/ralph/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
cat > "$site/ralph_fs_append.py" <<'PY'
"""bench/setup_ralph.sh: let ralph's file backend append (5.1.0 refuses a second write)."""
from ralph.backends.data.base import BaseOperationType
from ralph.backends.data.fs import FSDataBackend

FSDataBackend.default_operation_type = BaseOperationType.APPEND
PY
echo "import ralph_fs_append" > "$site/ralph_fs_append.pth"
.venvs/ralph/bin/python -c "
import ralph
from ralph.backends.data.fs import FSDataBackend
print('ralph', ralph.__version__, 'file backend writes:', FSDataBackend.default_operation_type.value)"
