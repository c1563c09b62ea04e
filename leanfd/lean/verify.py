"""The batch verifier: many proof attempts in, one trustworthy verdict each out.

Each attempt is screened by the guard, wrapped as ``header; set_option maxHeartbeats H in
STATEMENT PROOF`` and elaborated alone in a fresh command state of a warm Lean session (no attempt
sees another's declarations, macros or options). A verdict is ``proved`` only if Lean reported no
error, the text produced exactly the one theorem command, the theorem exists, no ``sorry`` was
used, and the axiom audit found no forbidden or attempt-declared axiom.

A whole-file attempt is elaborated as ``header; set_option maxHeartbeats H; FILE`` (its import
lines blanked: the session imported them) and is ``proved`` only if, besides the above, every
command in it is one a file may hold, it declares the theorem the statement names at the root
namespace, and Lean finds that theorem's type equal to the statement's, elaborated on its own
under the header (``Wrapped.reference``). The audit follows the theorem into every helper.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from leanfd.data.problem import Attempt, Problem
from leanfd.lean import backends
from leanfd.lean.guard import (
    cap_options,
    file_command_refusal,
    normalise_file,
    option_limit,
    screen,
    screen_file,
)
from leanfd.lean.guard import policy as get_policy
from leanfd.lean.session import LeanSession, RawResult, SessionCrashed
from leanfd.lean.types import LeanMessage, Verdict
from leanfd.syntax import file_imports

#: Axioms that make a proof untrustworthy (the session program flags these).
FORBIDDEN_AXIOMS = frozenset({"sorryAx", "Lean.ofReduceBool", "Lean.ofReduceNat", "Lean.trustCompiler"})
STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})

_THEOREM = re.compile(
    r"^(?P<pre>(?:\s|/-.*?-/|--[^\n]*\n)*(?:@\[[^\]]*\]\s*)?)(?P<kw>theorem|lemma|example)\b(?P<rest>.*)\Z",
    re.S,
)
_NAME = re.compile(r"\s+(?P<name>[^\s:({\[⦃]+)")
_IMPORT = re.compile(r"^\s*import\s+(.+?)\s*$")
_HEADER_HEARTBEATS = re.compile(r"^\s*set_option\s+maxHeartbeats\s+([0-9][0-9_]*)\s*$", re.M)
_HEARTBEAT_MARKERS = ("(deterministic) timeout", "maximum number of heartbeats", "maximum recursion depth")
_SORRY_MARKERS = ("declaration uses 'sorry'", "declaration uses `sorry`")


class VerifyInputError(ValueError):
    """An attempt cannot be verified as given (bad statement or header); the message says why."""


@dataclass(frozen=True)
class Wrapped:
    """An attempt as Lean sees it, and where its proof starts in that source."""

    source: str
    theorem: str
    imports: tuple[str, ...]
    theorem_line: (
        int  # 1-based line of the attempt's first command (a proof: the wrapper's `set_option … in`)
    )
    proof_line: int  # 1-based line where the proof text (or the file) starts, at column 0
    #: Whole-file attempts: a source that states the theorem exactly as the problem does (``None``
    #: for proofs). Lean compares the file's theorem with the one this declares.
    reference: str | None = None


def split_header(header: str) -> tuple[tuple[str, ...], str]:
    """Split a header into its imported modules and the rest (``open``, ``set_option`` …)."""
    imports: list[str] = []
    rest: list[str] = []
    for line in header.splitlines():
        m = _IMPORT.match(line)
        if m:
            imports.extend(m.group(1).split())
        else:
            rest.append(line)
    return tuple(imports) or ("Init",), "\n".join(rest).strip("\n")


def _statement(p: Problem) -> tuple[str, str, str]:
    """The theorem's name, the statement (an ``example`` renamed to a theorem) and its keyword;
    raise :class:`VerifyInputError` on a statement that cannot be wrapped."""
    statement = p.statement.rstrip()
    if not statement.endswith(":="):
        raise VerifyInputError(
            f"problem {p.name!r}: the statement must end with ':=' (the proof follows it); got "
            f"...{statement[-40:]!r}. For miniF2F-style statements ending in ':= by', load them with "
            f"leanfd.data (which normalises them) or drop the trailing 'by'."
        )
    m = _THEOREM.match(statement)
    if not m:
        raise VerifyInputError(
            f"problem {p.name!r}: the statement must start with 'theorem NAME'; got {statement[:60]!r}"
        )
    if m.group("kw") == "example":
        name = "leanfd_example"
        statement = f"{m.group('pre')}theorem {name}{m.group('rest')}"
    else:
        nm = _NAME.match(m.group("rest"))
        if not nm:
            raise VerifyInputError(f"problem {p.name!r}: no theorem name after {m.group('kw')!r}")
        name = nm.group("name").replace("«", "").replace("»", "")
    return name, statement, m.group("kw")


def _header_heartbeats(header_rest: str, heartbeats: int, preset: str) -> int:
    """The limit the wrapper sets: the verifier's, or under a preset that honours the problem's own
    options, the last ``set_option maxHeartbeats N`` of the header (which the wrapper's line would
    otherwise override)."""
    found = _HEADER_HEARTBEATS.findall(header_rest)
    if found and get_policy(preset).own_heartbeats:
        return int(found[-1].replace("_", ""))
    return heartbeats


def wrap(attempt: Attempt, heartbeats: int, preset: str = "strict") -> Wrapped:
    """Build the Lean source for ``attempt``; raise :class:`VerifyInputError` on a bad statement."""
    if attempt.file is not None:
        return wrap_file(attempt, heartbeats, preset)
    p = attempt.problem
    name, statement, _ = _statement(p)
    imports, header_rest = split_header(p.header)
    cap = option_limit(heartbeats, preset)
    heartbeats = _header_heartbeats(header_rest, heartbeats, preset)
    prefix = (header_rest + "\n\n") if header_rest else ""
    prefix += f"set_option maxHeartbeats {int(heartbeats)} in\n"
    # The proof starts on a line of its own, so its columns are Lean's columns and any message
    # about the statement (e.g. `declaration uses sorry` on the name) lands on a line <= 0.
    head = prefix + statement + "\n"
    return Wrapped(
        source=head + cap_options(attempt.proof or "", cap) + "\n",
        theorem=name,
        imports=imports,
        theorem_line=prefix.count("\n"),
        proof_line=head.count("\n") + 1,
    )


def wrap_file(attempt: Attempt, heartbeats: int, preset: str = "strict") -> Wrapped:
    """Build the Lean source for a whole-file attempt and the reference that states its theorem.

    The file follows the header's non-import lines and a ``set_option maxHeartbeats H`` (so the
    verifier's limit holds for every command unless the file lowers it), starting on a line of its
    own: message positions are the file's own lines and columns. Its import lines are blanked
    (the session already imported the header's modules, and the guard allows no others) and its
    option values capped, both without moving any text."""
    p = attempt.problem
    name, statement, kw = _statement(p)
    if kw == "example":
        raise VerifyInputError(
            f"problem {p.name!r}: a file attempt needs a named theorem to look for; the statement "
            f"is an example"
        )
    imports, header_rest = split_header(p.header)
    text = cap_options(normalise_file(attempt.file or ""), option_limit(heartbeats, preset))
    heartbeats = _header_heartbeats(header_rest, heartbeats, preset)
    for a, b in file_imports(text)[1]:
        text = text[:a] + " " * (b - a) + text[b:]
    head = (header_rest + "\n\n") if header_rest else ""
    prefix = head + f"set_option maxHeartbeats {int(heartbeats)}\n"
    first = prefix.count("\n") + 1
    return Wrapped(
        source=prefix + text + "\n",
        theorem=name,
        imports=imports,
        theorem_line=first,
        proof_line=first,
        reference=head + f"set_option maxHeartbeats {int(heartbeats)} in\n{statement} sorry\n",
    )


def _relative(w: Wrapped, line: int, col: int) -> tuple[int, int]:
    """Map a source position to one relative to the proof text (line 1 = the proof's first line)."""
    return line - w.proof_line + 1, col


def to_messages(w: Wrapped, raw: list[dict]) -> list[LeanMessage]:
    out = []
    for m in raw:
        pos = m.get("pos") or {"line": 0, "column": 0}
        end = m.get("endPos") or pos
        line, col = _relative(w, pos["line"], pos["column"])
        end_line, end_col = _relative(w, end["line"], end["column"])
        out.append(LeanMessage(m.get("severity", "error"), line, col, end_line, end_col, m.get("data", "")))
    return out


def judge(w: Wrapped, raw: RawResult, preset: str = "strict") -> Verdict:
    """Turn what the session reported into a verdict under the named ``preset``."""
    if raw.timed_out:
        return Verdict(
            False, "timeout", [], raw.time_s, [], "wall-clock limit reached; the Lean process was restarted"
        )
    if raw.crashed:
        return Verdict(False, "crash", [], raw.time_s, [], "the Lean process died: " + raw.crash_log[-500:])
    msgs = to_messages(w, raw.messages)
    errors = [m for m in msgs if m.severity == "error"]
    axioms = sorted(set(raw.axioms))

    def refuse(status: str, reason: str = "") -> Verdict:
        return Verdict(False, status, msgs, raw.time_s, axioms, reason)

    if w.reference is None:
        mine = [c for c in raw.commands if c >= w.theorem_line]
        if len(mine) != 1:
            return refuse(
                "forbidden",
                f"the proof text produced {len(mine)} commands; a proof must be part of the one theorem",
            )
    elif reason := _file_commands_refusal(w, raw):
        return refuse("forbidden", reason)
    if any(any(k in m.text for k in _HEARTBEAT_MARKERS) for m in errors):
        return refuse("timeout", "heartbeat limit reached (deterministic timeout)")
    if errors:
        first = errors[0]
        where = f"line {first.line}:{first.col}: " if w.reference is not None else ""
        return refuse("failed", (where + first.text.split("\n", 1)[0]) if where else "")
    if w.reference is not None:
        st = raw.statement or {}
        if st.get("error"):
            return refuse(
                "failed", f"the problem's statement does not elaborate under its header: {st['error']}"
            )
        if not raw.theorem:
            return refuse(
                "forbidden",
                f"the file declares no theorem {w.theorem!r} at the root namespace (the problem's "
                f"theorem, by that exact name, not private and not in a namespace)",
            )
        if not st.get("same"):
            return refuse(
                "forbidden",
                f"the file's theorem {w.theorem!r} does not state the problem's statement\n"
                f"  problem: {_one_line(st.get('reference', ''))}\n"
                f"  file:    {_one_line(st.get('target', ''))}",
            )
    elif not raw.theorem:
        return refuse("failed", f"Lean did not add the theorem {w.theorem!r}")
    if "sorryAx" in axioms or any(any(k in m.text for k in _SORRY_MARKERS) for m in msgs):
        return refuse("sorry", "the proof uses sorry")
    trusted = get_policy(preset).trusted_axioms
    bad = [a for a in axioms if a not in trusted and (a in FORBIDDEN_AXIOMS or a not in STANDARD_AXIOMS)]
    if bad:
        return refuse("axiom", f"the proof depends on non-standard axioms: {', '.join(bad)}")
    if used := [a for a in axioms if a in trusted]:
        why = f"proved trusting the compiler ({', '.join(used)}), which the {preset} policy accepts"
        return Verdict(True, "proved", msgs, raw.time_s, axioms, why)
    return Verdict(True, "proved", msgs, raw.time_s, axioms)


def _file_commands_refusal(w: Wrapped, raw: RawResult) -> str | None:
    """Why the file's commands, as Lean parsed them, are not all ones a file may hold."""
    for start, end, shape in zip(raw.commands, raw.ends, raw.shapes, strict=True):
        if end < w.theorem_line:
            continue  # the verifier's own header lines
        if start < w.theorem_line:
            return "the file's first command continues the verifier's last one"
        if reason := file_command_refusal(shape):
            return f"line {start - w.proof_line + 1}: {reason}"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class Verifier:
    """A pool of warm Lean sessions (``workers`` per distinct header import set).

    Use as a context manager, or call :meth:`close`; sessions start on first use. Verdicts are
    returned in input order. Thread-safe across calls (a lock serialises batches).
    """

    def __init__(
        self,
        backend: str = "auto",
        workers: int | None = None,
        timeout_s: float = 30.0,
        heartbeats: int = 200_000,
        progress: bool = False,
        policy: str = "strict",
    ) -> None:
        self.backend = resolve_backend(backend)
        self._backend = backends.get(self.backend)
        self._client: backends.RemoteClient | None = None
        self.workers = workers or default_workers()
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.timeout_s = timeout_s
        self.heartbeats = heartbeats
        self.progress = progress
        #: The preset that says what "proved" means (:data:`leanfd.lean.guard.POLICIES`).
        self.policy = get_policy(policy).name
        self._pools: dict[tuple[str, ...], list[LeanSession]] = {}
        self._lock = threading.Lock()

    @property
    def supports_mathlib(self) -> bool:
        """Whether this verifier can check Mathlib problems (the registry says, per backend; a
        remote one asks its replicas)."""
        return self._backend.supports_mathlib()

    def _new_session(self, imports: tuple[str, ...]) -> LeanSession:
        if not self._backend.local:
            raise VerifyInputError(f"the {self.backend} backend keeps no local Lean session")
        return self._backend.start_session(imports)

    def _remote(self) -> backends.RemoteClient:
        if self._client is None:
            self._client = self._backend.start_client()
        return self._client

    def _pool(self, imports: tuple[str, ...]) -> list[LeanSession]:
        if imports not in self._pools:
            self._pools[imports] = [self._new_session(imports) for _ in range(self.workers)]
        return self._pools[imports]

    def warm_up(self, imports: tuple[str, ...] = ("Init",)) -> float:
        """Start all sessions for ``imports`` in parallel; returns wall seconds."""
        if not self._backend.local:  # the replicas start and keep their own sessions
            return 0.0
        t0 = time.perf_counter()
        pool = self._pool(imports)
        with ThreadPoolExecutor(len(pool)) as ex:
            list(ex.map(lambda s: s.alive or s.start(), pool))
        return time.perf_counter() - t0

    def verify(
        self,
        attempts: Sequence[Attempt],
        *,
        timeout_s: float | None = None,
        heartbeats: int | None = None,
        goals: bool = False,
        progress: bool | None = None,
        policy: str | None = None,
    ) -> list[Verdict]:
        """Verify ``attempts``; see the module docstring for what ``proved`` means under the default
        ``strict`` policy (``policy`` names another preset for this call). Each verdict records
        the preset that judged it."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        heartbeats = self.heartbeats if heartbeats is None else heartbeats
        progress = self.progress if progress is None else progress
        preset = self.policy if policy is None else get_policy(policy).name
        if not self._backend.local:  # the replicas screen, wrap and judge with their own Verifier
            return self._remote().verify(
                attempts,
                timeout_s=timeout_s,
                heartbeats=heartbeats,
                goals=goals,
                progress=progress,
                policy=preset,
            )
        verdicts: list[Verdict | None] = [None] * len(attempts)
        todo: dict[tuple[str, ...], list[tuple[int, Wrapped]]] = {}
        for i, a in enumerate(attempts):
            if a.file is not None:
                reason = screen_file(a.file, split_header(a.problem.header)[0], heartbeats, preset)
            else:
                reason = screen(a.proof or "", heartbeats, preset)
            if reason:
                verdicts[i] = Verdict(False, "forbidden", [], 0.0, [], reason, policy=preset)
                continue
            w = wrap(a, heartbeats, preset)
            todo.setdefault(w.imports, []).append((i, w))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(
                total=len(attempts),
                desc="verify",
                unit="attempt",
                initial=len(attempts) - sum(map(len, todo.values())),
            )
        with self._lock:
            for imports, items in todo.items():
                pool = self._pool(imports)
                queue = iter(items)
                queue_lock = threading.Lock()
                with ThreadPoolExecutor(len(pool)) as ex:
                    jobs = [
                        ex.submit(self._drain, s, queue, queue_lock, verdicts, timeout_s, goals, bar, preset)
                        for s in pool
                    ]
                    for job in jobs:
                        job.result()
        if bar is not None:
            bar.close()
        return [v for v in verdicts if v is not None]

    def _drain(self, session, queue, queue_lock, verdicts, timeout_s, goals, bar, preset) -> None:
        """Worker loop: take the next attempt from ``queue`` until it is empty."""
        while True:
            with queue_lock:
                item = next(queue, None)
            if item is None:
                return
            i, w = item
            verdicts[i] = self._run_one(session, w, timeout_s, goals, preset)
            if bar is not None:
                bar.update(1)

    def _run_one(
        self, session: LeanSession, w: Wrapped, timeout_s: float, goals: bool, preset: str = "strict"
    ) -> Verdict:
        # A process can die for reasons outside the attempt (the OOM killer, a signal); one retry in
        # a fresh process tells those apart from an attempt that crashes Lean every time.
        for attempt_no in range(2):
            try:
                raw = session.run(w.source, w.theorem, timeout_s, goals=goals, reference=w.reference)
            except SessionCrashed as e:
                return Verdict(
                    False, "crash", [], 0.0, [], f"the Lean session could not start: {e}", policy=preset
                )
            if not raw.crashed or attempt_no == 1:
                break
        v = judge(w, raw, preset)
        v.policy = preset
        v.goals = [_relative_goal(w, g) for g in raw.goals]
        return v

    def goals(self, attempt: Attempt, timeout_s: float | None = None) -> tuple[Verdict, list[dict]]:
        """Verify one attempt and also return the goals before/after each tactic (proof-relative
        positions): ``[{line, col, end_line, end_col, tactic, before, after}]``."""
        v = self.verify([attempt], timeout_s=timeout_s, goals=True)[0]
        return v, v.goals

    def constant_names(self, imports: tuple[str, ...]) -> dict[str, list[str]]:
        """Every constant of the environment ``imports`` makes, by module, as the session program
        lists them (auxiliary ones included): the index of agents' name search. One Lean query
        (≈0.4 s for core Lean's 46k names, ≈1 s for ``import Lean``'s 127k); it may start a session."""
        text = self._query(imports, "names", "", max(self.timeout_s, 300.0))["text"]
        by_module: dict[str, list[str]] = {}
        names: list[str] = []
        for line in text.splitlines():
            if line.startswith("#"):
                names = by_module.setdefault(line[1:], [])
            elif line:
                names.append(line)
        return by_module

    def describe_constants(self, imports: tuple[str, ...], names: Sequence[str]) -> list[dict]:
        """``{name, kind, signature, module, doc}`` for each name in the environment ``imports``
        makes (``kind`` is ``unknown`` for a name it lacks); pretty-printed by Lean."""
        return self._query(imports, "describe", "\n".join(names), self.timeout_s)["constants"]

    def _query(self, imports: tuple[str, ...], kind: str, payload: str, timeout_s: float) -> dict:
        if not self._backend.local:
            raise VerifyInputError(
                "library queries (agents' search and read) need a local Lean: use the "
                + " or ".join(backends.local_names())
                + " backend"
            )
        with self._lock:
            return self._pool(imports)[0].query(kind, payload, timeout_s)

    def close(self) -> None:
        for pool in self._pools.values():
            for s in pool:
                s.close()
        self._pools.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def carries_over(verdict: Verdict, attempt: Attempt, preset: str) -> bool:
    """Whether ``verdict`` (judged under ``verdict.policy``) is also the verdict under ``preset``
    without running Lean again. Presets differ only in trusted words, trusted axioms and whose
    ``maxHeartbeats`` counts, so a verdict carries over unless the attempt or its header sets
    heartbeats, the guard or the axiom check refused it, or it was proved on a non-standard axiom."""
    if verdict.policy == preset:
        return True
    get_policy(preset)  # an unknown name fails here, not as a silent copy
    text = attempt.file if attempt.file is not None else attempt.proof or ""
    if "maxHeartbeats" in text or "maxHeartbeats" in attempt.problem.header:
        return False
    if verdict.status in ("forbidden", "axiom"):
        return False
    return not (verdict.ok and any(a not in STANDARD_AXIOMS for a in verdict.axioms))


def verdicts_under(
    verifier: Verifier, attempts: Sequence[Attempt], verdicts: Sequence[Verdict], preset: str, **options
) -> list[Verdict]:
    """The verdicts of ``attempts`` under another ``preset``, from their ``verdicts`` under one:
    copied where :func:`carries_over` says they cannot change, verified again (one batch, ``options``
    as for :meth:`Verifier.verify`) where they can. This is how one eval reports pass@k under
    several presets without judging every attempt twice."""
    if len(attempts) != len(verdicts):
        raise ValueError(f"{len(attempts)} attempts but {len(verdicts)} verdicts")
    out: list[Verdict] = []
    again: list[int] = []
    for i, (a, v) in enumerate(zip(attempts, verdicts, strict=True)):
        if carries_over(v, a, preset):
            out.append(replace(v, policy=preset))
        else:
            out.append(v)
            again.append(i)
    if again:
        rechecked = verifier.verify([attempts[i] for i in again], policy=preset, **options)
        for i, v in zip(again, rechecked, strict=True):
            out[i] = v
    return out


def _relative_goal(w: Wrapped, g: dict) -> dict:
    line, col = _relative(w, g["line"], g["col"])
    end_line, end_col = _relative(w, g["end_line"], g["end_col"])
    return {
        "line": line,
        "col": col,
        "end_line": end_line,
        "end_col": end_col,
        "tactic": g.get("tactic", ""),
        "before": g.get("before", "").strip("\n"),
        "after": g.get("after", "").strip("\n"),
    }


def check_embedded_imports(imports: tuple[str, ...]) -> None:
    """Fail early, with what to do, when a header imports something the embedded Lean lacks."""
    from leanfd.lean.toolchain import install_embedded

    lib = install_embedded().lib_dir
    missing = [m for m in imports if not (lib / (m.replace(".", "/") + ".olean")).exists()]
    if missing:
        raise VerifyInputError(
            f"the header imports {', '.join(missing)}, which the embedded Lean (core only: Init, Std, "
            f"Lean) does not have. Use --backend native with lean_project/ (Mathlib); see README 'Scale up'."
        )


def resolve_backend(backend: str) -> str:
    """``auto`` picks native when a native toolchain and lean_project/ are set up, else embedded;
    the backends are listed in :mod:`leanfd.lean.backends`."""
    return backends.resolve(backend)


_DEFAULT: dict[tuple[str, int], Verifier] = {}
_DEFAULT_LOCK = threading.Lock()


def shared_verifier(backend: str = "auto", workers: int | None = None) -> Verifier:
    """A process-wide warm verifier per (backend, workers), closed at exit."""
    key = (resolve_backend(backend), workers or default_workers())
    with _DEFAULT_LOCK:
        if key not in _DEFAULT:
            _DEFAULT[key] = Verifier(key[0], key[1])
        return _DEFAULT[key]


@atexit.register
def _close_shared() -> None:
    for v in _DEFAULT.values():
        v.close()


def verify_batch(
    attempts: Sequence[Attempt],
    *,
    backend: str = "auto",
    timeout_s: float = 30.0,
    workers: int | None = None,
    heartbeats: int = 200_000,
    progress: bool = False,
    executor: str | None = None,
    urls: Sequence[str] | None = None,
) -> list[Verdict]:
    """Verify ``attempts`` and return one :class:`Verdict` each, in input order.

    Sessions stay warm between calls (one shared :class:`Verifier` per backend and worker count),
    so only the first call pays the Lean start-up. ``backend="http"`` sends the batch to the
    ``leanfd serve`` replicas at ``urls`` (default: ``LEANFD_VERIFY_URLS``).

    ``executor=`` is deprecated (one release): ``executor="http"`` is ``backend="http"``,
    ``executor="local"`` the default.
    """
    if executor is not None:
        warnings.warn(
            "verify_batch(executor=...) is deprecated and will be removed in the next release; pass "
            "backend='http' (or use Verifier(backend=...)) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        if executor not in ("local", "http"):
            raise ValueError(f"unknown executor {executor!r}; use local or http")
        backend = "http" if executor == "http" else backend
    if urls:
        from leanfd.lean.http import verify_batch_http

        return verify_batch_http(attempts, list(urls), timeout_s=timeout_s, heartbeats=heartbeats)
    v = shared_verifier(backend, workers)
    return v.verify(attempts, timeout_s=timeout_s, heartbeats=heartbeats, progress=progress)
