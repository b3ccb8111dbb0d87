"""``masterypath serve --workers 2`` for real: both workers come up, stay up, and share the
connections of clients that keep them open."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


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
        # each worker listens on a socket of its own (SO_REUSEPORT), not on one shared socket
        listening = [_sockets(pid, port, LISTEN) for pid in first]
        assert all(len(inodes) == 1 for inodes in listening), listening
        assert len(set().union(*listening)) == len(first)
        # so the kernel spreads the connections of keep-alive clients over them; with one
        # shared socket the first worker to wake took every waiting connection (16 of 16
        # in the ingest benchmark)
        held = asyncio.run(_connections_held(port, first, 48))
        assert sum(held.values()) == 48
        assert all(n >= 8 for n in held.values()), held  # below 8 of 48: ~1 in a million
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def _connections_held(port: int, workers: set[int], n: int) -> dict[int, int]:
    """Connections each worker holds while ``n`` async clients keep theirs open."""
    import httpx2

    limits = httpx2.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
        answers = await asyncio.gather(*(client.get("/health") for _ in range(n)))
        assert all(a.status_code == 200 for a in answers)
        return {pid: len(_sockets(pid, port, ESTABLISHED)) for pid in workers}


ESTABLISHED, LISTEN = "01", "0A"


def _sockets(pid: int, port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` that process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            found.add(fields[9])
    return found


def test_a_port_held_by_another_program_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # was a traceback from the SO_REUSEPORT probe
    from typer.testing import CliRunner

    from masterypath.cli import app

    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port), "--workers", "2"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in said
