"""Warm Lean between commands: find, start, reuse or replace the local verify daemon.

The daemon is one ``leanfd serve`` app (``leanfd.serve.daemon``) listening on a Unix socket in a
directory only this user may enter (mode 0700, checked before every use), so no other local user
can submit work: ``leanfd check`` runs whole files without the guard. A daemon is reused only when
its key matches (leanfd's version, the session program's hash, backend, workers, warm imports);
any other daemon, a dead one or a stale state file is replaced. A file lock makes two commands
starting at once start one daemon. The daemon exits on its own after ``idle_timeout_s`` without
requests. ``LEANFD_NO_DAEMON=1`` (or ``--no-daemon``) turns it off.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from leanfd.data.problem import Attempt
from leanfd.lean.types import LeanMessage, Verdict

DEFAULT_IDLE_S = 600.0
#: How long a new daemon may take to start its Lean sessions before the command gives up.
START_TIMEOUT_S = 300.0
SOCKET_NAME, STATE_NAME, _LOCK, _LOG = "lean.sock", "daemon.json", "daemon.lock", "daemon.log"


class DaemonError(RuntimeError):
    """The daemon cannot be used or started; the message says why and what to do."""


def disabled(no_daemon: bool = False) -> bool:
    """Whether the daemon is off: ``--no-daemon`` or ``LEANFD_NO_DAEMON`` set to a true value."""
    return no_daemon or os.environ.get("LEANFD_NO_DAEMON", "").lower() in ("1", "true", "yes")


def daemon_dir(create: bool = True) -> Path:
    """``$LEANFD_DAEMON_DIR``, else ``<cache dir>/daemon``; refused unless this user owns it and no
    one else may enter it (mode 0700), since whoever reaches the socket runs Lean as this user."""
    from leanfd.io import cache_dir

    d = Path(os.environ.get("LEANFD_DAEMON_DIR") or cache_dir() / "daemon")
    if create and not d.exists():
        d.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)
    if not d.exists():
        return d
    st = d.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise DaemonError(
            f"{d}: the daemon directory must be a directory owned by you (uid {os.getuid()}) with mode "
            f"0700; it is owned by uid {st.st_uid} with mode {oct(st.st_mode & 0o777)}. Remove it (or set "
            f"LEANFD_DAEMON_DIR elsewhere), or pass --no-daemon"
        )
    if len(str(d / SOCKET_NAME)) > 100:  # sockaddr_un holds 108 bytes
        raise DaemonError(f"{d}: path too long for a Unix socket; set LEANFD_DAEMON_DIR to a shorter one")
    return d


def program_hash() -> str:
    from leanfd.lean.session import server_source

    return hashlib.sha256(server_source().encode()).hexdigest()[:16]


def daemon_key(backend: str, workers: int | None, imports: Sequence[tuple[str, ...]] = ()) -> dict:
    """What a daemon must match to be reused (``imports``: the import sets it keeps warm)."""
    from leanfd import __version__
    from leanfd.lean.verify import default_workers, resolve_backend

    warm = sorted({tuple(i) for i in imports} or {("Init",)})
    return {
        "version": __version__,
        "program": program_hash(),
        "backend": resolve_backend(backend),
        "workers": workers or default_workers(),
        "imports": [list(i) for i in warm],
    }


class DaemonClient:
    """Talks to a running daemon; usable wherever a :class:`leanfd.lean.Verifier` is (its sessions
    stay warm in the daemon, so ``warm_up`` and ``close`` do nothing here)."""

    def __init__(self, socket_path: Path, health: dict) -> None:
        self.socket_path = Path(socket_path)
        self.health = health
        self.backend: str = health.get("backend", "")
        self.workers: int = int(health.get("workers") or 1)
        self.supports_mathlib = bool(health.get("mathlib"))
        self.pid = int(health.get("pid") or 0)

    def _client(self, timeout_s: float = 600.0) -> httpx.Client:
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.socket_path)),
            base_url="http://leanfd-daemon",
            timeout=httpx.Timeout(timeout_s, connect=5.0),
        )

    def _post(self, path: str, payload: dict, timeout_s: float) -> dict:
        try:
            with self._client(timeout_s) as c:
                r = c.post(path, json=payload)
        except httpx.HTTPError as e:
            raise DaemonError(
                f"the Lean daemon (pid {self.pid}) did not answer {path}: {e}. Run `leanfd daemon stop` "
                f"and retry, or pass --no-daemon"
            ) from e
        if r.status_code == 422:
            raise ValueError(r.json().get("detail", r.text))
        if r.status_code != 200:
            raise DaemonError(f"the Lean daemon answered {path} with {r.status_code}: {r.text[:500]}")
        return r.json()

    def warm_up(self, imports: tuple[str, ...] = ("Init",)) -> float:
        return 0.0

    def verify(
        self,
        attempts: Sequence[Attempt],
        *,
        timeout_s: float | None = None,
        heartbeats: int | None = None,
        goals: bool = False,
        progress: bool = False,
        policy: str | None = None,
    ) -> list[Verdict]:
        from leanfd.lean.http import attempt_to_dict

        out: list[Verdict] = []
        chunk = 1024  # under the app's per-request cap
        per = timeout_s or 30.0
        for s in range(0, len(attempts), chunk):
            part = list(attempts[s : s + chunk])
            payload = {"attempts": [attempt_to_dict(a) for a in part], "goals": goals}
            options = (("timeout_s", timeout_s), ("heartbeats", heartbeats), ("policy", policy))
            payload |= {k: v for k, v in options if v}
            budget = 60.0 + len(part) * (per + 5.0) / max(1, self.workers)
            out += [Verdict.from_dict(d) for d in self._post("/verify", payload, budget)["verdicts"]]
        return out

    def goals(self, attempt: Attempt, timeout_s: float | None = None) -> tuple[Verdict, list[dict]]:
        v = self.verify([attempt], timeout_s=timeout_s, goals=True)[0]
        return v, v.goals

    def check(self, text: str, timeout_s: float = 600.0) -> list[LeanMessage]:
        """A whole file's messages, as ``leanfd check`` prints them."""
        d = self._post("/check", {"text": text, "timeout_s": timeout_s}, timeout_s + 60.0)
        return [LeanMessage(**m) for m in d["messages"]]

    def close(self) -> None:
        pass

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc) -> None:
        pass


def _health(socket_path: Path, timeout_s: float = 5.0) -> dict | None:
    if not socket_path.exists():
        return None
    try:
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=str(socket_path)),
            base_url="http://leanfd-daemon",
            timeout=timeout_s,
        ) as c:
            return c.get("/health").json()
    except (httpx.HTTPError, ValueError):
        return None


def _read_state(d: Path) -> dict | None:
    try:
        return json.loads((d / STATE_NAME).read_text())
    except (OSError, ValueError):
        return None


def _is_daemon_process(pid: int) -> bool:
    """Whether ``pid`` is alive and a leanfd daemon (a recycled pid is left alone)."""
    import psutil

    try:
        cmdline = psutil.Process(pid).cmdline()
    except (psutil.Error, ValueError):
        return False
    return "leanfd.cli" in cmdline and "daemon" in cmdline


def memory_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (its Lean sessions), MB; 0 if unknown."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except (psutil.Error, ValueError):
        return 0.0
    total = 0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            total += q.memory_info().rss
    return total / 2**20


def status() -> dict | None:
    """The running daemon's health record (with ``pid``, ``key``, ``memory_mb``), or None."""
    d = daemon_dir(create=False)
    if not d.exists():
        return None
    h = _health(d / SOCKET_NAME)
    if h is None:
        return None
    return {**h, "memory_mb": round(memory_mb(int(h.get("pid") or 0)))}


def _stop_pid(pid: int, d: Path, timeout_s: float = 15.0) -> None:
    if pid and _is_daemon_process(pid):
        os.kill(pid, signal.SIGTERM)  # uvicorn shuts down and closes the Lean sessions
        deadline = time.monotonic() + timeout_s
        while _is_daemon_process(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_daemon_process(pid):
            os.kill(pid, signal.SIGKILL)
    for name in (STATE_NAME, SOCKET_NAME):
        with contextlib.suppress(FileNotFoundError):
            (d / name).unlink()


def stop() -> int | None:
    """Stop the daemon; returns the pid stopped, or None if none ran."""
    d = daemon_dir(create=False)
    if not d.exists():
        return None
    with _locked(d):
        st = _read_state(d) or {}
        h = _health(d / SOCKET_NAME) or {}
        pid = int(h.get("pid") or st.get("pid") or 0)
        alive = _is_daemon_process(pid)
        _stop_pid(pid, d)
        return pid if alive else None


@contextlib.contextmanager
def _locked(d: Path):
    fd = os.open(d / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _reusable(h: dict, key: dict, workers_given: bool) -> bool:
    """Same version, program and backend; the same workers when the command asked for a number;
    every import set the command needs already warm."""
    theirs = h.get("key") or {}
    if any(theirs.get(k) != key.get(k) for k in ("version", "program", "backend")):
        return False
    if workers_given and theirs.get("workers") != key["workers"]:
        return False
    return all(i in (theirs.get("imports") or []) for i in key["imports"])


def running(backend: str = "auto") -> DaemonClient | None:
    """A client of the daemon when one is up for this leanfd version, program and backend, else
    None (starts nothing): ``eval`` and ``train`` verify through it instead of starting sessions."""
    if disabled():
        return None
    try:
        d = daemon_dir(create=False)
    except DaemonError:
        return None
    if not d.exists():
        return None
    h = _health(d / SOCKET_NAME)
    if h is None or not h.get("ready") or h.get("error"):
        return None
    theirs, mine = h.get("key") or {}, daemon_key(backend, None)
    if any(theirs.get(k) != mine.get(k) for k in ("version", "program", "backend")):
        return None
    return DaemonClient(d / SOCKET_NAME, h)


def ensure(
    backend: str = "auto",
    workers: int | None = None,
    imports: Sequence[tuple[str, ...]] = (),
    *,
    idle_timeout_s: float = DEFAULT_IDLE_S,
    timeout_s: float = 30.0,
    heartbeats: int = 200_000,
    echo: Callable[[str], None] | None = None,
) -> DaemonClient:
    """A client of a daemon for ``(backend, workers, imports)``: the running one when it serves
    them (``workers=None``: any number), else a new one that replaces it and keeps its import sets
    warm too. ``echo`` gets one line when a daemon starts."""
    key = daemon_key(backend, workers, imports)
    d = daemon_dir()
    sock = d / SOCKET_NAME
    with _locked(d):
        h = _health(sock)
        if h is not None and h.get("ready") and not h.get("error") and _reusable(h, key, workers is not None):
            return DaemonClient(sock, h)
        theirs = (h or {}).get("key") or {}
        if h is not None and theirs.get("version") == key["version"]:
            imports = [tuple(i) for i in key["imports"] + (theirs.get("imports") or [])]
            key = daemon_key(backend, workers or theirs.get("workers"), imports)
        # Another version, other settings, a dead daemon or a stale file: replace it.
        st = _read_state(d) or {}
        _stop_pid(int((h or {}).get("pid") or st.get("pid") or 0), d)
        t0 = time.perf_counter()
        log = os.open(d / _LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        cmd = [
            sys.executable, "-m", "leanfd.cli", "daemon", "run",
            "--backend", key["backend"], "--workers", str(key["workers"]),
            "--warm-imports", ";".join(",".join(i) for i in key["imports"]),
            "--idle-timeout", str(idle_timeout_s), "--timeout", str(timeout_s), "--heartbeats", str(heartbeats),
        ]  # fmt: skip
        # Its own session: a Ctrl-C in the command that started it does not reach it.
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd=d
        )
        os.close(log)
        state = {"pid": proc.pid, "key": key, "idle_timeout_s": idle_timeout_s}
        fd = os.open(d / STATE_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            h = _health(sock)
            if h is not None and h.get("ready"):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                tail = (d / _LOG).read_text(errors="replace")[-1500:]
                raise DaemonError(f"the Lean daemon did not start (log {d / _LOG}):\n{tail}")
            time.sleep(0.2)
        if h.get("error"):
            _stop_pid(proc.pid, d)
            raise DaemonError(f"the Lean daemon could not start its verifier: {h['error']}")
        if echo is not None:
            mins = idle_timeout_s / 60
            echo(
                f"leanfd: started a Lean daemon in {time.perf_counter() - t0:.0f} s (pid {proc.pid}, "
                f"{memory_mb(proc.pid) / 1024:.1f} GB, exits after {mins:g} min idle); it keeps Lean warm "
                f"for the next command. Stop it: leanfd daemon stop (or LEANFD_NO_DAEMON=1 / --no-daemon)"
            )
        return DaemonClient(sock, h)


def verifier_for(
    backend: str,
    workers: int | None,
    imports: Sequence[tuple[str, ...]],
    *,
    no_daemon: bool = False,
    echo: Callable[[str], None] | None = None,
    **options,
):
    """What ``verify``/``critique`` verify with: the daemon (started if needed) unless it is turned
    off or the backend is ``http``; otherwise the process's own shared verifier."""
    from leanfd.lean import backends
    from leanfd.lean.verify import shared_verifier

    if disabled(no_daemon) or not backends.get(backend).local:
        return shared_verifier(backend, workers)
    return ensure(backend, workers, imports, echo=echo, **options)
