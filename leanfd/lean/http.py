"""The client of the verify service: spread a batch of attempts over N ``leanfd serve`` replicas and
keep input order. It lives next to the verifier (``Verifier("http")`` uses it); ``leanfd/serve/``
holds only the FastAPI app, which imports this module for the wire format.

The batch is cut into chunks, each a task of a ``ThreadPoolExecutor`` with one worker per replica;
a task borrows an idle replica, posts its chunk and returns the verdicts, which are collected in
submission order, so the input order is kept and a faster replica simply serves more chunks. A
replica that fails to answer (connection refused, timeout, 5xx) is retried with back-off; after
``retries`` failures in a row it is dropped for the rest of the call and the chunk goes to the
others. Only when every replica is down does the call fail, naming each URL and its last error. A
4xx answer (a malformed attempt, a bad option) fails at once: another replica would say the same.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
    policy: str | None = None,
) -> list[Verdict]:
    """Verify ``attempts`` on the replicas at ``urls`` (see :func:`resolve_urls`); verdicts come
    back in input order.

    ``timeout_s``/``heartbeats``/``policy`` default to each replica's own settings (``leanfd serve
    --timeout-s/--heartbeats``); ``goals=True`` also returns the goals around each tactic.
    ``request_timeout_s`` bounds one HTTP request (default: generous for ``chunk_size`` attempts at
    ``timeout_s`` each, plus a replica's warm-up). ``chunk_size`` trades load balance (small) for
    per-request overhead (large).
    """
    urls = resolve_urls(urls)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    attempts = list(attempts)
    if not attempts:
        return []
    per_attempt = timeout_s if timeout_s is not None else 30.0
    read_timeout = request_timeout_s or (120.0 + chunk_size * (per_attempt + 5.0))
    options = {
        k: v
        for k, v in (("timeout_s", timeout_s), ("heartbeats", heartbeats), ("policy", policy))
        if v is not None
    }
    if goals:
        options["goals"] = True
    chunks = [attempts[i : i + chunk_size] for i in range(0, len(attempts), chunk_size)]
    replicas = _Replicas(urls, retries, httpx.Timeout(connect=10.0, read=read_timeout, write=60.0, pool=10.0))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(attempts), desc=f"verify on {len(urls)} replica(s)", unit="attempt")
    results: list[Verdict] = []
    # One worker per replica: each chunk borrows an idle replica, so at most one request per replica
    # is in flight and a faster replica simply serves more chunks.
    with ThreadPoolExecutor(len(urls), thread_name_prefix="verify-http") as ex:
        futures = [ex.submit(replicas.post, {"attempts": [attempt_to_dict(a) for a in c], **options}, len(c))
                   for c in chunks]  # fmt: skip
        try:
            for f in futures:  # in submission order: the verdicts keep the input order
                verdicts = f.result()
                results += verdicts
                if bar is not None:
                    bar.update(len(verdicts))
        except VerifyServiceError as e:
            replicas.stop = True
            for f in futures:
                f.cancel()
            if replicas.fatal is not None:
                raise
            reasons = "; ".join(f"{u}: {replicas.last_error.get(u, 'no answer')}" for u in urls)
            raise VerifyServiceError(
                f"every verify replica failed ({len(urls)} tried, {retries} tries each) with "
                f"{len(attempts) - len(results)} of {len(attempts)} attempts unverified. Check that "
                f"`leanfd serve` runs at each URL and that its /health says ready. Last errors: {reasons}"
            ) from e
        finally:
            if bar is not None:
                bar.close()
            replicas.close()
    return results


class _Replicas:
    """The replicas of one call: which are idle, how often each failed in a row, which are dropped.

    A replica that fails to answer (connection refused, timeout, 5xx) is retried with back-off;
    after ``retries`` failures in a row it is dropped for the rest of the call and its chunk goes to
    the others. A 4xx answer (a malformed attempt, a bad option) fails the call at once: another
    replica would say the same.
    """

    def __init__(self, urls: list[str], retries: int, timeout: httpx.Timeout) -> None:
        self.clients = {u: httpx.Client(base_url=u, timeout=timeout) for u in urls}
        self.idle: queue.Queue[str] = queue.Queue()
        for u in urls:
            self.idle.put(u)
        self.retries = retries
        self.failures = dict.fromkeys(urls, 0)
        self.alive = len(urls)
        self.last_error: dict[str, str] = {}
        self.fatal: str | None = None
        self.stop = False
        self.lock = threading.Lock()

    def post(self, payload: dict, n: int) -> list[Verdict]:
        while True:
            url = self._take()
            try:
                r = self.clients[url].post("/verify", json=payload)
                if 400 <= r.status_code < 500:
                    self.fatal = f"{url} refused the batch ({r.status_code}): {_detail(r)}"
                    self.idle.put(url)
                    raise VerifyServiceError(self.fatal)
                r.raise_for_status()
                verdicts = [Verdict.from_dict(d) for d in r.json()["verdicts"]]
                if len(verdicts) != n:
                    raise ValueError(f"{len(verdicts)} verdicts for {n} attempts")
            except (httpx.HTTPError, ValueError, KeyError) as e:
                self._failed(url, f"{type(e).__name__}: {e}")
                continue
            self.failures[url] = 0
            self.idle.put(url)
            return verdicts

    def _take(self) -> str:
        while True:
            if self.fatal is not None:
                raise VerifyServiceError(self.fatal)
            if self.stop or self.alive == 0:
                raise VerifyServiceError("no verify replica left")
            try:
                return self.idle.get(timeout=0.2)
            except queue.Empty:
                continue

    def _failed(self, url: str, error: str) -> None:
        self.last_error[url] = error
        self.failures[url] += 1
        if self.failures[url] >= self.retries:
            with self.lock:
                self.alive -= 1  # dropped: never put back in the idle queue
            return
        time.sleep(min(0.5 * 2 ** (self.failures[url] - 1), 8.0))
        self.idle.put(url)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


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
