"""Start a verifier's Lean sessions in the background while a model loads and samples.

A run (``evaluate``, the trainer) calls :class:`BackgroundStart` when it starts and
:meth:`BackgroundStart.wait` just before its first verification, so Lean's start-up (20-45 s on two
cores) overlaps the model's loading and sampling instead of preceding them.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable

# One lock per verifier: two background starts of the same verifier (the trainer's and the
# evaluate it calls) must not build its session pool twice; the second finds the sessions alive.
_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def _lock_of(verifier) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(verifier, threading.Lock())


class BackgroundStart:
    """Sessions for each import set in ``imports``, started by a daemon thread.

    :meth:`wait` blocks until they are up and re-raises what the start raised (a missing
    toolchain, imports the backend lacks), so the error surfaces where the run needs Lean.
    """

    def __init__(self, verifier, imports: Iterable[tuple[str, ...]]) -> None:
        self.imports = sorted(set(imports))
        self.start_s = 0.0  # how long the start took, in the background
        self.waited_s: float | None = None  # how long the first wait blocked (None: not waited yet)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(verifier,), name="leanfd-lean-start", daemon=True
        )
        self._thread.start()

    def _run(self, verifier) -> None:
        t0 = time.perf_counter()
        try:
            with _lock_of(verifier):
                for imports in self.imports:
                    verifier.warm_up(imports)
        except BaseException as e:  # handed to the waiting thread
            self._error = e
        finally:
            self.start_s = time.perf_counter() - t0

    def wait(self) -> float:
        """Block until the sessions are up; return the seconds this call waited."""
        t0 = time.perf_counter()
        self._thread.join()
        waited = time.perf_counter() - t0
        if self.waited_s is None:
            self.waited_s = waited
        if self._error is not None:
            raise self._error
        return waited

    def join(self) -> None:
        """Block until the start is over, without raising what it raised."""
        self._thread.join()
