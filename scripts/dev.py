#!/usr/bin/env python3
"""Set up and run masterypath with nothing but Python 3.11+ and pip.

    python3 scripts/dev.py demo [--port 8000]   # set up, load the sample course, serve it
    python3 scripts/dev.py test                 # set up, then ruff, mypy and the whole test suite

The virtual environment lives in ``.venv`` and is (re)installed whenever
``pyproject.toml`` changes. Any further arguments go to ``masterypath demo`` or
``pytest``. The test run includes the PostgreSQL leg when a server answers on
127.0.0.1:5432 (``MASTERYPATH_REQUIRE_POSTGRES=1`` makes it mandatory) and exits
non-zero on any failure, including pytest's "no tests collected" (exit code 5). The
browser tests run when Debian's ``chromium`` is installed (``MASTERYPATH_REQUIRE_BROWSER=1``
makes them mandatory; ``.ci/run`` installs it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".masterypath-install"


def run(*cmd: str | Path, check: bool = True) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)
    if check and code != 0:
        sys.exit(code)
    return code


def create_venv() -> None:
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    except (OSError, subprocess.CalledProcessError):
        # Debian without python3-venv: fall back to virtualenv from PyPI (needs only pip)
        print("python -m venv is unavailable; using virtualenv from PyPI", flush=True)
        run(sys.executable, "-m", "pip", "install", "--user", "--quiet", "virtualenv")
        run(sys.executable, "-m", "virtualenv", "--clear", VENV)


def ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may run on an older python3
        sys.exit(f"masterypath needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        create_venv()
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]" if extras else ".")
    STAMP.write_text(wanted)


def demo(args: list[str]) -> int:
    ensure_env("dev")
    return run(BIN / "masterypath", "demo", *args, check=False)


def ensure_axe() -> None:
    """axe-core (npm) for the browser tests' accessibility checks, when npm is here."""
    if (ROOT / "tests/e2e/node_modules/axe-core/axe.min.js").exists():
        return
    if shutil.which("npm") is None:
        print("npm not found: the browser tests will be skipped (they say so)", flush=True)
        return
    run("npm", "install", "--prefix", "tests/e2e", "--no-audit", "--no-fund", "--silent")


def test(args: list[str]) -> int:
    ensure_env("dev")
    ensure_axe()
    run(BIN / "ruff", "check", "src", "tests", "bench", "scripts")
    run(BIN / "ruff", "format", "--check", "src", "tests", "bench", "scripts")
    run(BIN / "mypy")
    code = run(PYTHON, "-m", "pytest", *args, check=False)
    if code == 5:
        print("pytest collected no tests: that is a failure", file=sys.stderr)
    return code


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
