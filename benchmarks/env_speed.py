"""The agentic environment's speed against its targets, warm, on the embedded Lean (one worker).

    .venv/bin/python benchmarks/env_speed.py        # best on a quiet machine: it prints the load first

Prints, each next to its target:
- ``check`` and ``goals`` round trips over the in-Lean time of the same request (the session
  program's own clock), back to back and after the session sat idle (its poll backs off to 64 ms);
- ``search`` latency after the first call for a header, in the ``Init`` and ``import Lean``
  environments, with the number of names each holds;
- a scripted 4-turn episode (fail, search, fix, prove) through ``LeanEnv``, excluding sampling;
- the MCP round trip over the direct call: streamable HTTP on loopback with server and client in
  this process (paired with direct calls), and the bare round trip over stdio to a server process.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time

from leanfd.data.problem import Problem
from leanfd.env import tools
from leanfd.env.episode import LeanEnv
from leanfd.lean.verify import Verifier

ST = "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :="
P = Problem("lt", ST)
REPS = 20


def overhead_ms(v: Verifier, fn, reps: int = REPS, idle_s: float = 0.0) -> tuple[float, float]:
    """Median (round trip - in-Lean time) of ``fn``'s single Lean request, and the median round trip.
    The in-Lean time is that same request's, on the session program's own clock."""
    session = v._pool(("Init",))[0]  # the benchmark reads the session's clock below the verifier
    inner, seen = session.run, []

    def run(*args, **kwargs):
        raw = inner(*args, **kwargs)
        seen.append(raw.lean_ms)
        return raw

    session.run = run
    try:
        over, total = [], []
        for _ in range(reps):
            if idle_s:
                time.sleep(idle_s)
            t0 = time.perf_counter()
            fn()
            dt = 1000 * (time.perf_counter() - t0)
            over.append(dt - seen[-1])
            total.append(dt)
        return statistics.median(over), statistics.median(total)
    finally:
        session.run = inner


def row(what: str, value: str, target: str) -> None:
    print(f"{what:<58} {value:>18}   target {target}")


def main() -> None:
    print(
        f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )
    with Verifier("embedded", workers=1) as v:
        t0 = time.perf_counter()
        v.warm_up()
        print(f"Lean session ready in {time.perf_counter() - t0:.1f} s (not counted below)")

        # check and goals over the in-Lean time of the same request
        check = lambda: tools.check(ST, "by omega", verifier=v)  # noqa: E731
        goals = lambda: tools.goals(ST, "by\n  omega", 2, verifier=v)  # noqa: E731
        check()
        for name, fn, target in (("check `by omega`", check, 100), ("goals at line 2", goals, 150)):
            for label, idle in (("back to back", 0.0), ("after 1 s idle", 1.0)):
                over, total = overhead_ms(v, fn, reps=REPS if not idle else 8, idle_s=idle)
                row(
                    f"{name}, {label}: round trip over in-Lean",
                    f"+{over:.0f} ms (of {total:.0f})",
                    f"<= {target} ms",
                )

        search_speed(v, "")

        # a scripted 4-turn episode, excluding sampling
        from leanfd.models.policy import smollm2_tokenizer

        tok = smollm2_tokenizer()
        turns = [
            "```lean\nby simp\n```<|im_end|>",
            '<tool_call>{"name": "search", "arguments": {"query": "QUERY"}}</tool_call><|im_end|>',
            '<tool_call>{"name": "goals", "arguments": {"code": "by\\n  sorry", "line": 2}}</tool_call><|im_end|>',
            "```lean\nby omega\n```<|im_end|>",
        ]
        for run, q in enumerate(["succ_le_of_lt", "lt_of_lt_of_le"]):
            ids = [tok.encode(t.replace("QUERY", q), add_special_tokens=False) for t in turns]
            env = LeanEnv(P, tok, verifier=v, max_turns=4)
            t0 = time.perf_counter()
            env.reset()
            for turn in ids:
                _, reward, done, _ = env.step(turn)
            dt = time.perf_counter() - t0
            assert reward == 1.0 and done
            row(
                f"4-turn episode (fail, search, fix, prove), run {run + 1}",
                f"{1000 * dt:.0f} ms",
                "<= 1000 ms",
            )

        for json_response in (False, True):
            mcp_overhead(v, json_response)
    mcp_stdio_round_trip()
    # `import Lean` in a verifier of its own, so no more than one Lean process runs at a time
    with Verifier("embedded", workers=1) as v:
        search_speed(v, "import Lean")


def search_speed(v: Verifier, header: str) -> None:
    """Search latency after the first call for ``header``, over queries that hit different names."""
    queries = ["add_comm", "lt_irrefl", "mul_comm", "succ_le", "zero_add", "le_antisymm", "sub_self"]
    t0 = time.perf_counter()
    tools.search("add_zero", header=header, verifier=v)
    first = time.perf_counter() - t0
    size = len(tools.library(v).index(header))
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        tools.search(q, header=header, verifier=v)
        lat.append(time.perf_counter() - t0)
    env = header or "Init"
    row(
        f"search in {env} ({size} names): first call {first:.1f} s, then",
        f"{1000 * statistics.median(lat):.0f} ms",
        "<= 300 ms",
    )


def mcp_overhead(v: Verifier, json_response: bool) -> None:
    """The streamable HTTP round trip over the direct call, with replies as an SSE stream (the SDK's
    default, what ``leanfd mcp --http`` serves) or as one JSON body (the app's ``json_response``)."""
    import anyio
    import uvicorn
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from leanfd.env.mcp_server import MAX_REQUEST_BYTES, build_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            build_server(v, 30.0, warm=False).streamable_http_app(
                max_request_body_size=MAX_REQUEST_BYTES, json_response=json_response
            ),
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    async def paired(session, name: str, args: dict, direct) -> tuple[float, float]:
        """Median of (MCP call - direct call) over interleaved pairs, and the median direct call."""
        diffs, base = [], []
        for _ in range(REPS):
            t0 = time.perf_counter()
            result = await session.call_tool(name, args)
            t1 = time.perf_counter()
            direct()
            t2 = time.perf_counter()
            assert not result.is_error
            diffs.append(1000 * ((t1 - t0) - (t2 - t1)))
            base.append(1000 * (t2 - t1))
        return statistics.median(diffs), statistics.median(base)

    async def run() -> None:
        url = f"http://127.0.0.1:{port}/mcp"
        async with streamable_http_client(url) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            for name, args, direct in (
                (
                    "check",
                    {"statement": ST, "code": "by omega"},
                    lambda: tools.check(ST, "by omega", verifier=v),
                ),
                ("search", {"query": "add_comm"}, lambda: tools.search("add_comm", verifier=v)),
            ):
                over, base = await paired(session, name, args, direct)
                kind = "JSON replies" if json_response else "SSE replies"
                row(
                    f"MCP {name} over the direct call, {kind} ({base:.0f} ms direct)",
                    f"+{over:.1f} ms",
                    "<= 20 ms",
                )

    try:
        anyio.run(run)
    finally:
        server.should_exit = True
        thread.join(10)


def mcp_stdio_round_trip() -> None:
    """The MCP round trip itself over stdio, as an MCP client runs ``leanfd mcp``: a call the server
    rejects at argument validation, so no tool (and no Lean) runs; a tool call costs this plus the
    direct call. The server here starts no Lean (its verifier is never used)."""
    import sys

    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    code = (
        "from leanfd.env.mcp_server import build_server; from leanfd.lean.verify import Verifier; "
        "build_server(Verifier('embedded', workers=1), warm=False).run('stdio')"
    )

    async def run() -> None:
        params = StdioServerParameters(command=sys.executable, args=["-c", code], env=dict(os.environ))
        async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            times = []
            for _ in range(REPS):
                t0 = time.perf_counter()
                result = await session.call_tool("goals", {"statement": ST, "code": "by omega", "line": 0})
                times.append(1000 * (time.perf_counter() - t0))
                assert result.is_error
            row(
                "MCP round trip over stdio (a call refused at validation)",
                f"{statistics.median(times):.1f} ms",
                "<= 20 ms",
            )

    anyio.run(run)


if __name__ == "__main__":
    main()
