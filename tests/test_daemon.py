"""The warm Lean daemon, against real embedded Lean with one worker: start, reuse, check, stale
state, version mismatch, concurrent start, idle exit, --no-daemon, and access control. At most one
daemon runs at a time, and every test stops it in a finally."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from leanfd.data.problem import Attempt, Problem
from leanfd.lean import daemon

pytestmark = [pytest.mark.lean, pytest.mark.slow]

PROOF = Attempt(Problem("t1", "theorem t1 : 1 + 1 = 2 :=", ""), "by rfl")
WRONG = Attempt(Problem("t2", "theorem t2 : 1 + 1 = 3 :=", ""), "by rfl")


@pytest.fixture
def ddir(monkeypatch, lean_toolchain):
    """A private daemon directory, the daemon turned on; the daemon is stopped afterwards. Its
    parent is open to every user, so only the directory's own mode keeps them out."""
    parent = Path(tempfile.mkdtemp(prefix="leanfd-daemon-test-"))
    parent.chmod(0o755)
    d = parent / "d"
    monkeypatch.setenv("LEANFD_DAEMON_DIR", str(d))
    monkeypatch.delenv("LEANFD_NO_DAEMON", raising=False)
    try:
        yield d
    finally:
        daemon.stop()
        shutil.rmtree(parent, ignore_errors=True)


def _alive(pid: int) -> bool:
    return daemon._is_daemon_process(pid)


def _connect_as_nobody(path: Path) -> int:
    """Exit status of a process of user ``nobody`` connecting to ``path``: 0 = connected,
    3 = permission denied. (The system Python: nobody may not enter the venv's directories.)"""
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(3)\n"
    )
    out = subprocess.run(["/usr/bin/python3", "-c", probe, str(path)], user=65534, group=65534, timeout=60)
    return out.returncode


def _other_user_is_kept_out(ddir: Path) -> None:
    # Control: a socket open to all, next to the daemon's directory, is reachable by nobody.
    open_sock = socket.socket(socket.AF_UNIX)
    open_path = ddir.parent / "open.sock"
    open_sock.bind(str(open_path))
    open_path.chmod(0o666)
    open_sock.listen()
    try:
        assert _connect_as_nobody(open_path) == 0
    finally:
        open_sock.close()
    assert _connect_as_nobody(ddir / daemon.SOCKET_NAME) == 3


def test_start_reuse_verify_check_and_stop(ddir):
    lines: list[str] = []
    c = daemon.ensure("embedded", 1, echo=lines.append)
    assert len(lines) == 1 and "leanfd daemon stop" in lines[0] and "10 min idle" in lines[0]
    assert "GB" in lines[0] and ddir.stat().st_mode & 0o777 == 0o700
    assert (ddir / daemon.SOCKET_NAME).stat().st_mode & 0o777 == 0o600
    again = daemon.ensure("embedded", 1, echo=lines.append)
    assert again.pid == c.pid and len(lines) == 1  # reused: no second start, no second line
    assert daemon.ensure("embedded", None).pid == c.pid  # no worker count asked: any will do
    assert daemon.running("embedded").pid == c.pid
    t0 = time.perf_counter()
    verdicts = c.verify([PROOF, WRONG])
    assert time.perf_counter() - t0 < 5
    assert [v.status for v in verdicts] == ["proved", "failed"]
    v, goals = c.goals(WRONG)
    assert not v.ok and goals  # critique's goals come back through the daemon
    msgs = c.check("import Init\n\ntheorem x : 2 = 2 := rfl\n#check (foo : Nat)\n")
    assert [(m.severity, m.line) for m in msgs] == [("error", 4)] and "foo" in msgs[0].text
    st = daemon.status()
    assert st["pid"] == c.pid and st["memory_mb"] > 100
    if os.geteuid() == 0 and Path("/usr/bin/python3").exists():  # root can act as another user
        _other_user_is_kept_out(ddir)
    assert daemon.stop() == c.pid
    assert not _alive(c.pid) and not (ddir / daemon.SOCKET_NAME).exists()
    assert daemon.status() is None and daemon.stop() is None


def test_stale_state_then_version_mismatch_replaces(ddir, monkeypatch):
    ddir.mkdir(mode=0o700)
    # A daemon that died without cleaning up: its state names a dead pid, its socket file is left.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (ddir / daemon.STATE_NAME).write_text(json.dumps({"pid": dead.pid, "key": {}}))
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(ddir / daemon.SOCKET_NAME))
    s.close()
    c = daemon.ensure("embedded", 1)
    assert c.pid != dead.pid and _alive(c.pid)
    assert c.verify([PROOF])[0].ok
    # The same settings from another leanfd version: never used, replaced.
    import leanfd

    monkeypatch.setattr(leanfd, "__version__", "0.0.0-other")
    assert daemon.running("embedded") is None  # eval and train do not use it either
    lines: list[str] = []
    c2 = daemon.ensure("embedded", 1, echo=lines.append)
    assert c2.pid != c.pid and not _alive(c.pid) and len(lines) == 1
    assert c2.verify([PROOF])[0].ok


def test_concurrent_commands_start_one_daemon_that_exits_when_idle(ddir):
    pids: list[int] = []
    lines: list[str] = []

    def start() -> None:
        pids.append(daemon.ensure("embedded", 1, idle_timeout_s=4.0, echo=lines.append).pid)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pids) == 2 and pids[0] == pids[1] and len(lines) == 1
    deadline = time.monotonic() + 30
    while _alive(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _alive(pids[0]), "the daemon did not exit after its idle timeout"
    assert not (ddir / daemon.SOCKET_NAME).exists() and not (ddir / daemon.STATE_NAME).exists()


def test_no_daemon_flag_and_variable(ddir, monkeypatch):
    from leanfd.lean.verify import Verifier

    v = daemon.verifier_for("embedded", 1, [("Init",)], no_daemon=True)
    assert isinstance(v, Verifier)
    monkeypatch.setenv("LEANFD_NO_DAEMON", "1")
    assert isinstance(daemon.verifier_for("embedded", 1, [("Init",)]), Verifier)
    assert daemon.running("embedded") is None
    assert not ddir.exists()  # nothing was started, not even the directory made
    out = subprocess.run(
        [sys.executable, "-m", "leanfd.cli", "daemon", "status"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and "no daemon" in out.stdout


def test_a_directory_others_may_enter_or_own_is_refused(ddir, monkeypatch):
    ddir.mkdir(mode=0o755)
    ddir.chmod(0o755)
    with pytest.raises(daemon.DaemonError, match="mode 0700"):
        daemon.ensure("embedded", 1)
    assert daemon.running("embedded") is None
    ddir.chmod(0o700)
    with monkeypatch.context() as m, pytest.raises(daemon.DaemonError, match="owned by you"):
        m.setattr(os, "getuid", lambda: os.geteuid() + 1)
        daemon.daemon_dir()
    assert daemon.daemon_dir() == ddir  # its owner, with mode 0700, is let in
