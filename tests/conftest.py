"""Shared fixtures. One warm embedded-Lean verifier serves the whole test session: the toolchain is
installed once (cached across sessions) and its Lean sessions start once (~45 s on 2 cores)."""

from __future__ import annotations

import os

import pytest

# The warm Lean daemon outlives a command; tests start their own sessions (tests/test_daemon.py
# turns it back on for itself).
os.environ["LEANFD_NO_DAEMON"] = "1"


@pytest.fixture(scope="session")
def lean_toolchain():
    from leanfd.lean.toolchain import install_embedded

    return install_embedded()


@pytest.fixture(scope="session")
def verifier(lean_toolchain):
    """The process-wide shared verifier (the one ``verify_batch(backend="embedded")`` uses), warm."""
    from leanfd.lean.verify import default_workers, shared_verifier

    v = shared_verifier("embedded", int(os.environ.get("LEANFD_TEST_WORKERS", default_workers())))
    v.warm_up()
    return v
