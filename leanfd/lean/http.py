"""The client of the verify service: spread a batch of attempts over N ``leanfd serve`` replicas and
keep input order. It lives next to the verifier (``Verifier("http")`` uses it); ``leanfd/serve/``
holds only the FastAPI app, which imports this module for the wire format.

The batch is cut into chunks that go into one shared queue; one thread per replica takes the next
chunk, posts it, and stores the verdicts at the chunk's place. Chunks start out round-robin and a
faster replica simply takes more of them. A replica that fails to answer (connection refused,
timeout, 5xx) is retried with back-off; after ``retries`` failures in a row it is dropped for the
rest of the call and its chunk goes back into the queue for the others. Only when every replica is
down does the call fail, naming each URL and its last error. A 4xx answer (a malformed attempt, a
bad option) fails at once: another replica would say the same.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, fields
from urllib.parse import urlsplit, urlunsplit

import httpx

from leanfd.data.problem import Attempt, Problem
from leanfd.lean.types import Verdict

_PROBLEM_FIELDS = tuple(f.name for f in fields(Problem))


def attempt_to_dict(a: Attempt) -> dict:
    """The JSON shape of an attempt on the wire: ``{"problem": {Problem fields}, "proof": str}``,
    or ``"file": str`` for a whole-file attempt (verdicts use ``Verdict.to_dict``/``from_dict``)."""
    if a.file is not None:
        return {"problem": asdict(a.problem), "file": a.file}
    return {"problem": asdict(a.problem), "proof": a.proof}


def attempt_from_dict(d: dict) -> Attempt:
    p = d["problem"]
    unknown = set(p) - set(_PROBLEM_FIELDS)
    if unknown:
        raise ValueError(f"unknown problem field(s) {sorted(unknown)}; expected some of {_PROBLEM_FIELDS}")
    return Attempt(problem=Problem(**p), proof=d.get("proof"), file=d.get("file"))


class VerifyServiceError(RuntimeError):
    """The verify service could not verify the batch; the message names the replicas and why."""


def resolve_urls(urls: Sequence[str] | None = None) -> list[str]:
    """Replica base URLs: ``urls``, else ``$LEANFD_VERIFY_URLS`` (comma-separated).

    A URL written ``dns+http://NAME:PORT`` stands for every IPv4 address NAME resolves to, one
    replica each: a scaled Docker Compose service or a Kubernetes headless service publishes its
    replicas that way, so the client needs no list of them.
    """
    if urls is None:
        env = os.environ.get("LEANFD_VERIFY_URLS", "")
        urls = [u.strip() for u in env.split(",") if u.strip()]
    if isinstance(urls, str) or not urls:
        raise VerifyServiceError(
            f"urls must be a non-empty list of replica base URLs like ['http://host:8000'] (or set "
            f"LEANFD_VERIFY_URLS=http://host1:8000,http://host2:8000), got {urls!r}"
        )
    out: list[str] = []
    for u in urls:
        u = u.rstrip("/")
        if not u.startswith("dns+"):
            out.append(u)
            continue
        parsed = urlsplit(u[len("dns+") :])
        try:
            infos = socket.getaddrinfo(parsed.hostname, parsed.port, socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            raise VerifyServiceError(f"cannot resolve the replicas behind {u}: {e}") from e
        for ip in sorted({info[4][0] for info in infos}):
            out.append(urlunsplit(parsed._replace(netloc=f"{ip}:{parsed.port}" if parsed.port else ip)))
    return out


def verify_batch_http(
    attempts: Sequence[Attempt],
    urls: Sequence[str] | None = None,
    *,
    chunk_size: int = 8,
    timeout_s: float | None = None,
    heartbeats: int | None = None,
    goals: bool = False,
    retries: int = 3,
    request_timeout_s: float | None = None,
    progress: bool = False,
) -> list[Verdict]:
    """Verify ``attempts`` on the replicas at ``urls`` (see :func:`resolve_urls`); verdicts come
    back in input order.

    ``timeout_s``/``heartbeats`` default to each replica's own settings (``leanfd serve
    --timeout-s/--heartbeats``); ``goals=True`` also returns the goals around each tactic.
    ``request_timeout_s`` bounds one HTTP request (default: generous for ``chunk_size`` attempts at
    ``timeout_s`` each, plus a replica's warm-up). ``chunk_size`` trades load balance (small) for
    per-request overhead (large).
    """
    urls = resolve_urls(urls)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    attempts = list(attempts)
    results: list[Verdict | None] = [None] * len(attempts)
    if not attempts:
        return []
    per_attempt = timeout_s if timeout_s is not None else 30.0
    read_timeout = request_timeout_s or (120.0 + chunk_size * (per_attempt + 5.0))
    options = {k: v for k, v in (("timeout_s", timeout_s), ("heartbeats", heartbeats)) if v is not None}
    if goals:
        options["goals"] = True

    todo: queue.Queue[tuple[int, int]] = queue.Queue()
    for start in range(0, len(attempts), chunk_size):
        todo.put((start, min(start + chunk_size, len(attempts))))
    n_chunks = todo.qsize()
    done = threading.Semaphore(0)
    lock = threading.Lock()
    state = {"alive": len(urls), "fatal": None}
    last_error: dict[str, str] = {}

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(attempts), desc=f"verify on {len(urls)} replica(s)", unit="attempt")

    def worker(url: str) -> None:
        failures = 0
        timeout = httpx.Timeout(connect=10.0, read=read_timeout, write=60.0, pool=10.0)
        with httpx.Client(base_url=url, timeout=timeout) as client:
            while state["fatal"] is None:
                try:
                    start, end = todo.get(timeout=0.2)
                except queue.Empty:
                    with lock:
                        if all(r is not None for r in results):
                            return
                    continue
                payload = {"attempts": [attempt_to_dict(a) for a in attempts[start:end]], **options}
                try:
                    r = client.post("/verify", json=payload)
                    if 400 <= r.status_code < 500:
                        with lock:
                            state["fatal"] = f"{url} refused the batch ({r.status_code}): {_detail(r)}"
                        todo.put((start, end))
                        done.release()
                        return
                    r.raise_for_status()
                    verdicts = [Verdict.from_dict(d) for d in r.json()["verdicts"]]
                    if len(verdicts) != end - start:
                        raise ValueError(f"{len(verdicts)} verdicts for {end - start} attempts")
                except (httpx.HTTPError, ValueError, KeyError) as e:
                    todo.put((start, end))  # someone (maybe this replica, after back-off) retries it
                    failures += 1
                    last_error[url] = f"{type(e).__name__}: {e}"
                    if failures >= retries:
                        with lock:
                            state["alive"] -= 1
                            if state["alive"] == 0:
                                done.release()  # wake the caller: nobody is left to do the work
                        return
                    time.sleep(min(0.5 * 2 ** (failures - 1), 8.0))
                    continue
                failures = 0
                with lock:
                    results[start:end] = verdicts
                if bar is not None:
                    bar.update(end - start)
                done.release()

    threads = [threading.Thread(target=worker, args=(u,), daemon=True, name=f"verify-{u}") for u in urls]
    for t in threads:
        t.start()
    try:
        for _ in range(n_chunks):
            done.acquire()
            if state["fatal"] is not None or state["alive"] == 0:
                break
    finally:
        if bar is not None:
            bar.close()
    if state["fatal"] is not None:
        raise VerifyServiceError(state["fatal"])
    if any(r is None for r in results):
        reasons = "; ".join(f"{u}: {last_error.get(u, 'no answer')}" for u in urls)
        raise VerifyServiceError(
            f"every verify replica failed ({len(urls)} tried, {retries} tries each) with "
            f"{sum(r is None for r in results)} of {len(attempts)} attempts unverified. Check that "
            f"`leanfd serve` runs at each URL and that its /health says ready. Last errors: {reasons}"
        )
    for t in threads:
        t.join(timeout=1.0)
    return results  # type: ignore[return-value]


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail", r.text))
    except ValueError:
        return r.text


def wait_until_ready(
    urls: Sequence[str] | None = None, timeout_s: float = 300.0, poll_s: float = 1.0
) -> list[dict]:
    """Block until every replica's /health says ready; return their health records.

    Raises :class:`VerifyServiceError` naming the replicas that are not ready after ``timeout_s``
    (or whose verifier failed to start).
    """
    urls = resolve_urls(urls)
    deadline = time.monotonic() + timeout_s
    health: dict[str, dict] = {}
    errors: dict[str, str] = {}
    with httpx.Client(timeout=10.0) as client:
        while True:
            for u in urls:
                if health.get(u, {}).get("ready"):
                    continue
                try:
                    h = client.get(u + "/health").json()
                except (httpx.HTTPError, ValueError) as e:
                    errors[u] = f"{type(e).__name__}: {e}"
                    continue
                health[u] = h
                if h.get("error"):
                    raise VerifyServiceError(f"replica {u} could not start its verifier: {h['error']}")
            if all(health.get(u, {}).get("ready") for u in urls):
                return [health[u] for u in urls]
            if time.monotonic() > deadline:
                waiting = [u for u in urls if not health.get(u, {}).get("ready")]
                raise VerifyServiceError(
                    f"replicas not ready after {timeout_s:.0f} s: "
                    + "; ".join(f"{u} ({errors.get(u, 'warming up')})" for u in waiting)
                )
            time.sleep(poll_s)


def replicas_support_mathlib(urls: Sequence[str] | None = None, timeout_s: float = 300.0) -> bool:
    """True if every replica can check Mathlib problems. Each replica answers for its own backend
    in /health (``mathlib``), so the client never guesses from a backend name."""
    return all(bool(h.get("mathlib")) for h in wait_until_ready(urls, timeout_s=timeout_s))
