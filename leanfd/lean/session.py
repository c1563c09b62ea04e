"""A long-lived Lean process running leanfd's session program (``server/LeanfdServer.lean``).

The process imports the header modules once and then elaborates one request at a time, each in a
fresh command state. We talk to it through files (requests) and its stdout (results): the
embedded build cannot read stdin (emscripten's non-blocking read of fd 0 fails on a pipe, and a
blocked main thread swallows the worker threads' output). A request that exceeds its wall-clock
limit kills the process (its whole process group); the next request starts a fresh one. Backends differ only in
the command that starts ``lean --run``: see :class:`EmbeddedSession` and ``leanfd.lean.native``.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

SERVER_FILE = "LeanfdServer.lean"
_EOF = object()  # what _next_obj returns once the process's output has ended


class SessionCrashed(RuntimeError):
    """The Lean process died or could not start; ``log`` holds the tail of its output."""

    def __init__(self, msg: str, log: str = "") -> None:
        super().__init__(msg + (f"\n--- Lean output (tail) ---\n{log}" if log else ""))
        self.log = log


@dataclass
class RawResult:
    """What the session program reported for one request (positions are in the request source)."""

    messages: list[dict] = field(default_factory=list)  # Lean's own JSON messages
    commands: list[int] = field(default_factory=list)  # start line of each command
    ends: list[int] = field(default_factory=list)  # end line of each command
    shapes: list[str] = field(default_factory=list)  # each command's syntax kind (see the program)
    theorem: bool = False  # the audited name exists and is a theorem
    axioms: list[str] = field(default_factory=list)
    goals: list[dict] = field(default_factory=list)
    #: Whole-file attempts: ``{same, reference, target, error}``, whether the file's theorem states
    #: exactly the reference statement, both types as Lean prints them, and any reference error.
    statement: dict | None = None
    lean_ms: float | None = None  # the request's time on the session program's own clock
    timed_out: bool = False
    crashed: bool = False
    crash_log: str = ""
    time_s: float = 0.0


def server_source() -> str:
    return resources.files("leanfd.lean").joinpath("server", SERVER_FILE).read_text(encoding="utf-8")


# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. All
# sessions are therefore spawned from this one long-lived thread, so a child dies with us but not
# with a short-lived worker thread.
_SPAWNER = ThreadPoolExecutor(1, thread_name_prefix="leanfd-spawn")


def _die_with_parent() -> None:
    """preexec_fn: start a new process group, and have Linux kill the child if we die."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class LeanSession:
    """One Lean process. Not thread-safe: one caller at a time (the verifier gives each worker
    thread its own session)."""

    #: Seconds to wait for the process to import its modules and print ``ready``.
    start_timeout_s: float = 600.0

    def __init__(self, imports: tuple[str, ...] = ("Init",), max_requests: int = 2000) -> None:
        self.imports = imports
        self.max_requests = max_requests  # recycle the process after this many (bounds memory growth)
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log: list[str] = []
        self._workdir: Path | None = None
        self._next_id = 0
        self.starts = 0  # how many processes this session has started (restarts = starts - 1)
        self.last_start_s = 0.0

    # -- subclasses say how to run `lean --run SERVER_FILE ARGS...`
    def command(self, server: Path, args: list[str]) -> list[str]:
        raise NotImplementedError

    def environment(self, workdir: Path) -> dict[str, str]:
        return dict(os.environ)

    def workdir_parent(self) -> str | None:
        return None

    # -- lifecycle
    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> float:
        """Start the process and wait until it is ready; returns the seconds it took."""
        self.close()
        t0 = time.perf_counter()
        self._workdir = Path(tempfile.mkdtemp(prefix="leanfd-session-", dir=self.workdir_parent()))
        reqdir = self._workdir / "req"
        reqdir.mkdir()
        server = self._workdir / SERVER_FILE
        server.write_text(server_source(), encoding="utf-8")
        self._lines = queue.Queue()
        self._log = []
        self._next_id = 0
        self._proc = _SPAWNER.submit(
            subprocess.Popen,
            self.command(server, [str(reqdir), *self.imports]),
            cwd=self._workdir,
            env=self.environment(self._workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            preexec_fn=_die_with_parent,
        ).result()
        threading.Thread(target=self._pump, args=(self._proc, self._lines), daemon=True).start()
        self.starts += 1
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            obj = self._next_obj(deadline)
            if obj is None or obj is _EOF:
                log = self._tail()
                self.close()
                raise SessionCrashed(f"the Lean session ({' '.join(self.imports)}) did not start", log)
            if obj.get("ready"):
                break
        self.last_start_s = time.perf_counter() - t0
        return self.last_start_s

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> LeanSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- requests
    def run(
        self, source: str, theorem: str, timeout_s: float, goals: bool = False, reference: str | None = None
    ) -> RawResult:
        """Elaborate ``source`` and audit ``theorem``; with ``reference`` (a source stating the
        theorem as the problem does), also check that ``source``'s theorem states exactly that.
        Starts (or restarts) the process if needed; start-up time does not count against
        ``timeout_s``."""
        reqdir, rid = self._next_request()
        (reqdir / f"{rid}.lean").write_text(source, encoding="utf-8")
        if reference is not None:
            (reqdir / f"{rid}.ref").write_text(reference, encoding="utf-8")
        tmp = reqdir / f"{rid}.tmp"
        mode = "file\n" if reference is not None else ""
        tmp.write_text(f"{theorem}\n{1 if goals else 0}\n{mode}", encoding="utf-8")
        t0 = time.perf_counter()
        tmp.rename(reqdir / f"{rid}.req")  # atomic: the server never sees a half-written request
        res = RawResult()
        deadline = time.monotonic() + timeout_s
        while True:
            obj = self._next_obj(deadline)
            if obj is None or obj is _EOF:
                res.time_s = time.perf_counter() - t0
                if obj is None and self.alive:  # still running at the deadline: it hung
                    res.timed_out = True
                else:
                    res.crashed, res.crash_log = True, self._tail()
                self.close()
                return res
            if obj.get("id") != rid:
                continue
            if "msg" in obj:
                res.messages.append(obj["msg"])
            elif obj.get("done"):
                res.commands = [int(x) for x in obj.get("commands", [])]
                res.ends = [int(x) for x in obj.get("ends", [])]
                res.shapes = [str(x) for x in obj.get("shapes", [])]
                res.statement = obj.get("statement")
                res.theorem = bool(obj.get("theorem"))
                res.axioms = list(obj.get("axioms", []))
                res.goals = list(obj.get("goals", []))
                res.lean_ms = obj.get("ms")
                res.time_s = time.perf_counter() - t0
                return res

    def _next_request(self) -> tuple[Path, int]:
        """The request directory and a fresh request id; (re)starts the process when it is down or
        has served ``max_requests``."""
        if not self.alive or self._next_id >= self.max_requests:
            self.start()
        assert self._workdir is not None
        rid = self._next_id
        self._next_id += 1
        return self._workdir / "req", rid

    def query(self, kind: str, payload: str, timeout_s: float) -> dict:
        """A library query about the imported environment (``names`` or ``describe``, with
        ``payload`` one name per line; see the session program). Returns the program's answer; for
        ``names``, the written file's text as ``"text"``. Raises :class:`SessionCrashed` if the
        process dies or does not answer within ``timeout_s`` (it is then stopped)."""
        reqdir, rid = self._next_request()
        (reqdir / f"{rid}.lean").write_text(payload, encoding="utf-8")
        tmp = reqdir / f"{rid}.tmp"
        tmp.write_text(f"#{kind}\n", encoding="utf-8")
        tmp.rename(reqdir / f"{rid}.req")
        deadline = time.monotonic() + timeout_s
        while True:
            obj = self._next_obj(deadline)
            if obj is None or obj is _EOF:
                log = self._tail()
                self.close()
                raise SessionCrashed(
                    f"the Lean session did not answer a {kind} query within {timeout_s:.0f} s", log
                )
            if obj.get("id") == rid and obj.get("done"):
                if "out" in obj:
                    out = reqdir / obj["out"]
                    obj["text"] = out.read_text(encoding="utf-8")
                    out.unlink()
                return obj

    # -- plumbing
    @staticmethod
    def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)  # EOF

    def _next_obj(self, deadline: float):
        """The next JSON object the process prints; ``None`` at the deadline, ``_EOF`` when the
        process closed its output (it died)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                self._lines.put(None)  # keep reporting EOF
                return _EOF
            s = line.strip()
            if s.startswith("{") and s.endswith("}"):
                try:
                    return json.loads(s)
                except json.JSONDecodeError:
                    pass
            if not s.startswith("[DEBUG"):
                self._log.append(s)
                del self._log[:-60]

    def _tail(self) -> str:
        return "\n".join(self._log[-30:])


class EmbeddedSession(LeanSession):
    """The session program under the embedded Lean (``node lean.js --run``)."""

    def __init__(self, imports: tuple[str, ...] = ("Init",), max_requests: int = 2000) -> None:
        super().__init__(imports, max_requests)
        from leanfd.lean.toolchain import install_embedded

        self.toolchain = install_embedded()

    def command(self, server: Path, args: list[str]) -> list[str]:
        return self.toolchain.command("--run", server.name, *args)

    def environment(self, workdir: Path) -> dict[str, str]:
        return self.toolchain.env(workdir)


def _main() -> None:  # pragma: no cover - manual smoke test: python -m leanfd.lean.session
    with EmbeddedSession() as s:
        print(f"ready in {s.start():.1f}s", file=sys.stderr)
        print(s.run("theorem t : 1 + 1 = 2 := by decide\n", "t", 30))


if __name__ == "__main__":
    _main()
