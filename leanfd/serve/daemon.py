"""The local daemon's server: the ``leanfd serve`` app on a private Unix socket, with ``/check``,
that exits after an idle timeout (``leanfd daemon run``; ``leanfd.lean.daemon`` starts and finds it).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any


def run_daemon(
    *,
    key: dict[str, Any],
    idle_timeout_s: float,
    timeout_s: float = 30.0,
    heartbeats: int = 200_000,
) -> None:
    """Serve on ``<daemon dir>/lean.sock`` until stopped (SIGTERM) or idle for ``idle_timeout_s``."""
    import uvicorn

    from leanfd.lean.daemon import SOCKET_NAME, STATE_NAME, daemon_dir
    from leanfd.lean.verify import Verifier
    from leanfd.serve.app import create_app

    d = daemon_dir()  # owner and mode checked again, here in the daemon
    sock, state = d / SOCKET_NAME, d / STATE_NAME
    backend, workers = key["backend"], key["workers"]
    config = {"backend": backend, "workers": workers, "timeout_s": timeout_s, "heartbeats": heartbeats}
    config |= {"key": key, "pid": os.getpid(), "idle_timeout_s": idle_timeout_s}

    def make_verifier():
        return Verifier(backend=backend, workers=workers, timeout_s=timeout_s, heartbeats=heartbeats)

    app = create_app(make_verifier, config, [tuple(i) for i in key["imports"]], allow_check=True)
    busy = {"n": 0, "last": time.monotonic()}
    lock = threading.Lock()

    @app.middleware("http")
    async def track(request, call_next):
        with lock:
            busy["n"] += 1
        try:
            return await call_next(request)
        finally:
            with lock:
                busy["n"] -= 1
                busy["last"] = time.monotonic()

    with contextlib.suppress(FileNotFoundError):
        sock.unlink()  # a dead daemon's socket (the starter holds the lock and checked it is dead)
    os.umask(0o077)  # the socket file too: only this user
    server = uvicorn.Server(uvicorn.Config(app, uds=str(sock), log_level="warning"))

    def watch_idle() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        # uvicorn makes the socket 0666; the 0700 directory already keeps others out, this too.
        with contextlib.suppress(FileNotFoundError):
            sock.chmod(0o600)
        while not server.should_exit:
            time.sleep(min(1.0, idle_timeout_s / 4))
            with lock:
                idle = busy["n"] == 0 and time.monotonic() - busy["last"] > idle_timeout_s
            if idle:
                server.should_exit = True

    threading.Thread(target=watch_idle, name="leanfd-daemon-idle", daemon=True).start()
    try:
        server.run()
    finally:
        # Leave the files to a successor if one already replaced this daemon.
        try:
            mine = json.loads(state.read_text()).get("pid") == os.getpid()
        except (OSError, ValueError):
            mine = False
        if mine:
            for p in (state, sock):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
