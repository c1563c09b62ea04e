"""The MCP server through a real MCP client session: `leanfd mcp --workers 1` over stdio (its own
Lean session), listing the tools and calling each on a real problem, bad calls, and a hung call;
and the same server over streamable HTTP, in process, on the test session's warm verifier."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

import anyio
import pytest

pytestmark = [pytest.mark.lean, pytest.mark.slow]

ST = "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :="
SLOW = "theorem slow : ∀ x < 300, ∀ y < 300, x * y ≠ 9999991 :="
TOOLS = {
    "check", "goals", "search", "read", "verify",
    "lean_run_code", "lean_write_file", "lean_check_file", "rg_in_mathlib",
}  # fmt: skip


def _text(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None) is not None)


async def _call(session, name: str, args: dict, *, error: bool = False) -> str:
    result = await session.call_tool(name, args)
    assert bool(result.is_error) == error, _text(result)
    return _text(result)


async def _exercise(session, scratch: str) -> None:
    listed = await session.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    assert (await _call(session, "check", {"statement": ST, "code": "by omega"})).startswith("proved")
    failed = await _call(session, "check", {"statement": ST, "code": "by\n  simp"})
    assert "Goal before the error" in failed and "> 2 |   simp" in failed
    goals = await _call(session, "goals", {"statement": ST, "code": "by\n  sorry", "line": 2})
    assert goals.startswith("Goals before line 2:\na b : Nat\nh : a < b\n⊢ a + 1 ≤ b")
    batch = json.loads(
        await _call(
            session, "verify", {"attempts": [{"statement": ST, "code": c} for c in ("by omega", "by rfl")]}
        )
    )
    assert [v["status"] for v in batch] == ["proved", "failed"]
    found = await _call(session, "search", {"query": "lt_irrefl", "limit": 3})
    assert "Nat.lt_irrefl" in found and "¬" in found
    assert "Nat.add_comm (n m : Nat) : n + m = m + n" in await _call(
        session, "read", {"name": "Nat.add_comm"}
    )
    assert "is_valid: true" in await _call(
        session, "lean_run_code", {"lean_code": "theorem t : 2 = 2 := rfl"}
    )
    wrote = await _call(
        session, "lean_write_file", {"code": ST + " by omega", "file_name": "lt", "trajectory_id": "t1"}
    )
    path = wrote.splitlines()[0].removeprefix("wrote ")
    assert path.startswith(scratch) and "is_valid: true" in wrote
    assert "is_valid: true" in await _call(session, "lean_check_file", {"absolute_file_path": path})
    assert "Init/" in await _call(session, "rg_in_mathlib", {"pattern": "^Nat\\.lt_irrefl$"})
    # bad calls: a clear error result each, and the server goes on
    assert "line" in await _call(
        session, "goals", {"statement": ST, "code": "by simp", "line": "two"}, error=True
    )
    huge = await _call(session, "search", {"query": "x" * 10_000_000}, error=True)
    assert "query" in huge and len(huge) < 2000  # says which argument, without echoing it back
    assert ":=" in await _call(
        session, "check", {"statement": "theorem t : True", "code": "trivial"}, error=True
    )
    assert "only files written" in await _call(
        session, "lean_check_file", {"absolute_file_path": "/etc/passwd"}, error=True
    )


def test_stdio_server_with_its_own_session(tmp_path):
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from leanfd.env.kimina import scratch_root

    args = ["-m", "leanfd.cli", "mcp", "--workers", "1", "--timeout-s", "15", "--heartbeats", "0"]

    async def main() -> None:
        params = StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            await _exercise(session, str(scratch_root()))
            t0 = time.monotonic()
            hung = await _call(session, "check", {"statement": SLOW, "code": "by decide +kernel"})
            assert hung.startswith("timeout") and time.monotonic() - t0 < 60  # its 15 s limit, and a kill
            listed = await session.list_tools()  # the server is still up
            assert len(listed.tools) == len(TOOLS)
            again = await _call(session, "search", {"query": "lt_irrefl", "limit": 3})  # cached: no Lean
            assert "Nat.lt_irrefl" in again

    anyio.run(main)


def test_streamable_http_in_process(verifier):
    import uvicorn
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from leanfd.env.kimina import scratch_root
    from leanfd.env.mcp_server import MAX_REQUEST_BYTES, build_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_server(verifier, 30.0, warm=False).streamable_http_app(
        max_request_body_size=MAX_REQUEST_BYTES
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)

        async def main() -> None:
            async with (
                streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await _exercise(session, str(scratch_root()))

        anyio.run(main)
    finally:
        server.should_exit = True
        thread.join(10)
