"""Throughput of the HTTP verify service against the local pool, on loopback.

    python benchmarks/serve_throughput.py [--replicas 2] [--workers 1] [--n 40]

Starts R `leanfd serve` replicas (W Lean workers each, embedded backend), waits until they are
warm, verifies the core suite's reference proofs (first n) through them, then through a local
Verifier with R*W workers, and prints attempts/s for both plus the HTTP overhead per attempt.
All R*W Lean processes share this machine's cores, so on a small machine this measures overhead,
not scaling; run replicas on separate machines (docker/README.md) to scale.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

from leanfd.data import load_suite
from leanfd.data.problem import Attempt
from leanfd.lean import Verifier
from leanfd.serve import verify_batch_http, wait_until_ready


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--chunk-size", type=int, default=4)
    args = ap.parse_args()
    attempts = [Attempt(p, p.reference_proof) for p in load_suite("core") if p.reference_proof][: args.n]

    procs, urls = [], []
    for _ in range(args.replicas):
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "leanfd.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        procs.append(
            subprocess.Popen(
                cmd + ["--backend", "embedded"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        t0 = time.perf_counter()
        wait_until_ready(urls, timeout_s=1200)
        print(f"{args.replicas} replicas x {args.workers} workers warm in {time.perf_counter() - t0:.0f} s")
        verify_batch_http(attempts[:2], urls)  # first request per replica path
        t0 = time.perf_counter()
        remote = verify_batch_http(attempts, urls, chunk_size=args.chunk_size, progress=True)
        t_remote = time.perf_counter() - t0
        print(f"http  : {len(attempts) / t_remote:6.2f} attempts/s ({t_remote:.1f} s)", flush=True)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)

    with Verifier(backend="embedded", workers=args.replicas * args.workers) as v:
        v.warm_up()
        v.verify(attempts[:2])
        t0 = time.perf_counter()
        local = v.verify(attempts, progress=True)
        t_local = time.perf_counter() - t0

    same = [r.status for r in remote] == [x.status for x in local]
    n = len(attempts)
    print(f"attempts: {n} (proved: {sum(v.ok for v in local)}), verdicts identical: {same}")
    print(f"local : {n / t_local:6.2f} attempts/s ({t_local:.1f} s)")
    print(f"HTTP overhead per attempt: {(t_remote - t_local) / n * 1000:+.0f} ms")


if __name__ == "__main__":
    main()
