"""``leanfd mcp``: the environment's tools as an MCP server, over stdio or streamable HTTP on loopback.

Built on the official ``mcp`` SDK (``MCPServer``) rather than ``fastmcp``: the SDK is the protocol's
reference implementation and ships the client the tests drive it with, while fastmcp 4 is a layer
over the same SDK that adds auth, CLI and UI machinery (and about twice the dependencies) that this
server does not use.

The server holds warm Lean sessions (one verifier), not per-client proof state: every tool is
stateless. Each call runs in a worker thread under a wall-clock limit (``--timeout-s``): a proof
that hangs Lean costs that limit (the verifier kills and later restarts its Lean process) and the
server stays up. Arguments are validated by type and size before any tool runs; a bad one gets an
error result that says what to change. Prints nothing on stdout, which carries the protocol.
"""

import json
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
from pydantic import BaseModel, Field

import leanfd
from leanfd.env import kimina, tools
from leanfd.env.tools import MAX_BATCH, MAX_CODE_CHARS, MAX_SEARCH_HITS, MAX_SHORT_ARG_CHARS, ToolError
from leanfd.lean.verify import Verifier, VerifyInputError

#: Largest HTTP request body: big enough that an oversized argument (say a 10 MB query) reaches
#: argument validation and gets an error naming the argument, not a bare HTTP 413.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
#: Seconds a call may wait beyond its Lean limit: a Lean process that must (re)start first (≈45 s
#: on 2 cores for core Lean, more for ``import Lean``) is not the call's fault.
START_ALLOWANCE_S = 600.0

Code = Annotated[
    str,
    Field(
        max_length=MAX_CODE_CHARS,
        description="A proof (the text after the statement's `:=`, e.g. `by omega`), or a whole Lean file "
        "whose theorem of the statement's name states exactly the statement (helper lemmas before it).",
    ),
]
Statement = Annotated[
    str,
    Field(
        max_length=MAX_CODE_CHARS,
        description="The theorem up to and including `:=`, e.g. `theorem t (n : Nat) : n + 0 = n :=`.",
    ),
]
Header = Annotated[
    str,
    Field(
        max_length=MAX_CODE_CHARS,
        description="Text before the statement: imports (core Lean on the embedded backend: Init, Std, "
        "Lean) and `open` lines. Empty for core Lean.",
    ),
]
Short = Annotated[str, Field(min_length=1, max_length=MAX_SHORT_ARG_CHARS)]


class AttemptIn(BaseModel):
    """One attempt of a ``verify`` batch."""

    statement: Statement
    code: Code
    header: Header = ""


INSTRUCTIONS = """Lean 4 verification with leanfd (core Lean on the embedded backend; Mathlib with --backend native).
check(statement, code): verdict + errors with goals. goals(statement, code, line): the goal state at a line.
search(query): declarations by name with their types. read(name): one declaration. verify(attempts): a batch.
lean_run_code, lean_write_file, lean_check_file and rg_in_mathlib mirror the Kimina tool names."""


def build_server(verifier: Verifier, timeout_s: float = 60.0, *, warm: bool = True) -> MCPServer:
    """The MCP server over ``verifier``; each call's Lean work is bounded by ``timeout_s`` seconds.
    With ``warm``, the core-Lean sessions start in the background at once (calls wait for them)."""
    server = MCPServer("leanfd", instructions=INSTRUCTIONS, version=leanfd.__version__, log_level="WARNING")
    ready = threading.Event()
    if warm:

        def warm_up() -> None:
            try:
                verifier.warm_up()
            finally:  # a session that cannot start is reported by the call that needs it
                ready.set()

        threading.Thread(target=warm_up, daemon=True).start()
    else:
        ready.set()

    async def run(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        def call() -> Any:
            ready.wait()
            return fn(*args, **kw)

        try:
            with anyio.fail_after(timeout_s + START_ALLOWANCE_S):
                return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except TimeoutError:
            raise MCPToolError(f"the call did not finish within its {timeout_s:.0f} s limit") from None
        except (ToolError, VerifyInputError) as e:
            raise MCPToolError(str(e)) from None

    lean = {"verifier": verifier, "timeout_s": timeout_s}

    @server.tool()
    async def check(
        statement: Statement,
        code: Code,
        header: Header = "",
        feedback: Literal["errors", "critique", "binary"] = "errors",
    ) -> str:
        """Check code against a theorem statement. Returns the verdict (proved, failed, sorry, forbidden,
        axiom, timeout, crash) and, on failure, feedback: `errors` (at most 3 errors, each with the goal
        before it and ±2 lines of code), `critique` (step-aligned critique) or `binary`."""
        return await run(tools.check, statement, code, header, feedback, **lean)

    @server.tool()
    async def goals(
        statement: Statement, code: Code, line: Annotated[int, Field(ge=1)], header: Header = ""
    ) -> str:
        """The goal state at `line` (1-based, in `code`) of a partial proof; it may end anywhere."""
        return await run(tools.goals, statement, code, line, header, **lean)

    @server.tool()
    async def search(
        query: Short, limit: Annotated[int, Field(ge=1, le=MAX_SEARCH_HITS)] = 10, header: Header = ""
    ) -> str:
        """Declarations whose name matches `query` (substring first, then fuzzy), each with its type,
        in the environment `header` imports; says when more than `limit` matched."""
        return await run(tools.search, query, limit, header, verifier=verifier)

    @server.tool()
    async def read(name: Short, header: Header = "") -> str:
        """A declaration's signature, kind and module, and its docstring where the build has one."""
        return await run(tools.read, name, header, verifier=verifier)

    @server.tool()
    async def verify(attempts: Annotated[list[AttemptIn], Field(min_length=1, max_length=MAX_BATCH)]) -> str:
        """Verify a batch of attempts; returns a JSON list of verdicts
        ({ok, status, messages, time_s, axioms, reason}) in order."""
        rows = [a.model_dump() for a in attempts]
        return json.dumps(await run(tools.verify, rows, **lean), ensure_ascii=False)

    @server.tool()
    async def lean_run_code(lean_code: Code) -> str:
        """Check a Lean snippet (its last theorem is the one proved); returns is_valid and the messages."""
        return await run(kimina.lean_run_code, lean_code, **lean)

    @server.tool()
    async def lean_write_file(code: Code, file_name: Short, trajectory_id: Short) -> str:
        """Write `code` to `file_name` in a scratch folder of the trajectory, then check it."""
        return await run(kimina.lean_write_file, code, file_name, trajectory_id, **lean)

    @server.tool()
    async def lean_check_file(absolute_file_path: Short, return_lemmas_list: bool = False) -> str:
        """Check a file written by lean_write_file; optionally list the library lemmas it cites."""
        return await run(kimina.lean_check_file, absolute_file_path, return_lemmas_list, **lean)

    @server.tool()
    async def rg_in_mathlib(
        pattern: Short, file_glob_pattern: Annotated[str, Field(max_length=200)] = "", header: Header = ""
    ) -> str:
        """Declarations whose name matches the regular expression `pattern` (at most 5; a last line
        says how many matched when more did), optionally in modules whose path matches
        `file_glob_pattern`, in the environment `header` imports. Names, not source lines: the
        library ships compiled, so this searches its declarations. A pattern that backtracks for
        more than 2 s over the names is refused."""
        return await run(kimina.rg_in_mathlib, pattern, file_glob_pattern, header, verifier=verifier)

    return server


def serve_mcp(
    backend: str = "embedded",
    workers: int = 1,
    timeout_s: float = 60.0,
    heartbeats: int = 200_000,
    http_port: int | None = None,
) -> None:
    """Run the server until the client goes (stdio) or the process is stopped (HTTP on 127.0.0.1)."""
    with Verifier(backend, workers=workers, timeout_s=timeout_s, heartbeats=heartbeats) as verifier:
        server = build_server(verifier, timeout_s)
        if http_port is None:
            server.run("stdio")
        else:
            server.run(
                "streamable-http", host="127.0.0.1", port=http_port, max_request_body_size=MAX_REQUEST_BYTES
            )
