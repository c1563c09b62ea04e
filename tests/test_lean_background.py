"""The background Lean start: evaluate and the trainer start sessions at once and wait only at the
first verification; a failed start surfaces there."""

from __future__ import annotations

import threading
import time

import pytest

from leanfd.lean.background import BackgroundStart


class SlowVerifier:
    """Stands in for a Verifier whose sessions take ``delay`` seconds to start."""

    def __init__(self, delay: float, error: Exception | None = None) -> None:
        self.delay, self.error = delay, error
        self.started: list[tuple[str, ...]] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()

    def warm_up(self, imports: tuple[str, ...]) -> float:
        with self._lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        time.sleep(self.delay)
        with self._lock:
            self.concurrent -= 1
        if self.error is not None:
            raise self.error
        self.started.append(imports)
        return self.delay


def test_start_does_not_block_and_first_wait_records_the_wait():
    v = SlowVerifier(0.3)
    t0 = time.perf_counter()
    start = BackgroundStart(v, [("Init",), ("Std",), ("Init",)])
    assert time.perf_counter() - t0 < 0.1
    time.sleep(0.1)  # the caller's own work (model load, sampling) overlaps the start
    waited = start.wait()
    assert 0.35 < waited < 0.7  # two import sets of 0.3 s each, less the 0.1 s of overlap
    assert start.waited_s == waited
    assert sorted(v.started) == [("Init",), ("Std",)]
    assert start.start_s >= 0.6
    assert start.wait() < 0.05 and start.waited_s == waited  # later waits keep the first figure


def test_failed_start_raises_at_the_wait():
    start = BackgroundStart(SlowVerifier(0.0, RuntimeError("no toolchain")), [("Init",)])
    with pytest.raises(RuntimeError, match="no toolchain"):
        start.wait()
    start.join()  # does not raise


def test_two_starts_of_one_verifier_do_not_overlap():
    v = SlowVerifier(0.2)
    a = BackgroundStart(v, [("Init",)])
    b = BackgroundStart(v, [("Init",)])
    a.wait()
    b.wait()
    assert v.max_concurrent == 1
