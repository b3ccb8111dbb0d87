"""``masterypath serve --workers 2`` for real: both workers come up and stay up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers(parent: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    children = {int(p) for p in found.stdout.split()}
    # the multiprocessing resource tracker is a child too; workers run spawn_main
    return {
        pid
        for pid in children
        if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    }


def test_two_workers_serve_and_are_not_restarted(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MASTERYPATH_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    cli = Path(sys.executable).parent / "masterypath"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(cli), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 180  # a generous start-up allowance, not a measurement
        while len(_workers(server.pid)) < 2 or not _answers(port):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.5)
        # both workers import the app before they can answer uvicorn's health check; with
        # its 5 s default a slow start-up got a worker killed and replaced
        first = _workers(server.pid)
        for _ in range(20):
            assert _answers(port)
            time.sleep(0.5)
        assert _workers(server.pid) == first
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False
