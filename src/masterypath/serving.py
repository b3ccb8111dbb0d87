"""Serving the API with several worker processes, each with its own listening socket.

uvicorn's ``--workers`` hands every worker the same listening socket, and whichever
worker's event loop wakes first accepts every connection waiting (asyncio accepts in a
loop). Clients that keep their connections open (integrations posting evidence, a load
balancer's pool) then all land on one worker while the others idle: under the ingest
load benchmark one of two workers held all 16 client connections, at ~80% of a core,
with a third of the machine idle.

Here each worker binds its own socket to the same address with ``SO_REUSEPORT``, and the
kernel spreads new connections over the workers' sockets by a hash of the client's
address and port. uvicorn's supervisor still starts, health-checks and restarts the
workers: it is given a :class:`WorkerSocket`, which a worker process unpickles into a
fresh socket of its own (uvicorn passes the sockets to its spawned workers by pickling).
Where the platform has no ``SO_REUSEPORT`` (Windows), the shared socket is used.
"""

from __future__ import annotations

import socket
from typing import Any

from masterypath.errors import ConfigurationError

WORKER_STARTUP_SECONDS = 60
"""How long uvicorn's supervisor waits for a worker to answer its health check. A new
worker imports the app (numpy, pandas, scipy, scikit-learn, SQLAlchemy) before it can
answer, which takes 5-7 s on a busy 2-core machine: with uvicorn's default of 5 s the
supervisor killed such workers as hung and started new ones, which were killed in turn
(seen under the ingest load benchmark)."""

APP = "masterypath.api.app:app_from_environment"
BACKLOG = 2048


def worker_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """``uvicorn`` options for several worker processes.

    >>> worker_options("127.0.0.1", 8000, 2)["timeout_worker_healthcheck"]
    60
    """
    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": "warning",
        "timeout_worker_healthcheck": WORKER_STARTUP_SECONDS,
    }


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listen_reuse_port(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEPORT``, listening unless
    ``listen`` is false (a bound socket that does not listen takes no connections).

    >>> a = listen_reuse_port("127.0.0.1", 0)
    >>> b = listen_reuse_port("127.0.0.1", a.getsockname()[1])  # the same port, again
    >>> a.getsockname() == b.getsockname()
    True
    >>> a.close(); b.close()
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class WorkerSocket:
    """An address that becomes a new ``SO_REUSEPORT`` listening socket wherever it is
    unpickled, i.e. in each worker process uvicorn spawns.

    >>> import pickle
    >>> probe = listen_reuse_port("127.0.0.1", 0, listen=False)
    >>> port = probe.getsockname()[1]
    >>> sock = pickle.loads(pickle.dumps(WorkerSocket("127.0.0.1", port)))
    >>> sock.getsockname() == ("127.0.0.1", port)
    True
    >>> sock.close(); probe.close()
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return (listen_reuse_port, (self.host, self.port))


def serve_workers(host: str, port: int, workers: int) -> None:
    """Run the app from the environment in ``workers`` processes until interrupted."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if not reuse_port_supported():
        uvicorn.run(APP, **worker_options(host, port, workers))
        return
    # fail here, not in every worker, when another program holds the port; this socket
    # does not listen, so it takes no connections
    try:
        probe = listen_reuse_port(host, port, listen=False)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    try:
        config = uvicorn.Config(APP, **worker_options(host, probe.getsockname()[1], workers))
        sockets: Any = [WorkerSocket(host, config.port)]
        Multiprocess(config, sockets=sockets).run()
    finally:
        probe.close()
