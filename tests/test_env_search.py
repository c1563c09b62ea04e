"""Agents' name search without Lean: ``search`` and ``rg_in_mathlib`` over a stand-in verifier that
answers the two library queries (constant names per import set, signatures), so what is searched,
what is cut and what is refused can be checked exactly. The real-Lean search tests are in
test_env_tools.py and test_env_mcp.py."""

from __future__ import annotations

import time

import anyio
import pytest

from leanfd.env import kimina, tools
from leanfd.env.library import MAX_SIGNATURE_CHARS
from leanfd.env.tools import ToolError

# The last Prelude name is long enough that a backtracking pattern would take hours on it.
INIT = {
    "Init.Data.Nat.Basic": [f"Nat.add_comm_{k}" for k in range(7)] + ["Nat.lt_irrefl"],
    "Init.Prelude": ["Nat.add", "Nat.long_signature", "Nat." + "a" * 60],
}
LEAN = {"Lean.Elab.Term": ["Lean.Elab.Term.elabTerm", "Lean.Elab.Term.add_comm_lean"]}


class LibraryOnly:
    """A verifier that answers library queries only: names per import set, and a signature for each
    name (``Nat.long_signature``'s is longer than a tool shows). Any Lean work is an error."""

    backend = "embedded"

    def __init__(self) -> None:
        self.described: list[tuple[tuple[str, ...], list[str]]] = []

    def constant_names(self, imports: tuple[str, ...]) -> dict[str, list[str]]:
        return {("Init",): INIT, ("Lean",): {**INIT, **LEAN}}[imports]

    def describe_constants(self, imports: tuple[str, ...], names) -> list[dict]:
        self.described.append((imports, list(names)))
        return [
            {
                "name": n,
                "kind": "theorem",
                "signature": f"{n} : " + ("True ∧ " * 200 + "True" if n == "Nat.long_signature" else "True"),
            }
            for n in names
        ]


@pytest.fixture
def fake():
    return LibraryOnly()


def test_rg_searches_the_environment_the_header_imports(fake):
    assert kimina.rg_in_mathlib(r"elabTerm$", verifier=fake).startswith("no declaration name matches")
    out = kimina.rg_in_mathlib(r"elabTerm$", header="import Lean", verifier=fake)
    assert out == "Lean/Elab/Term.lean: Lean.Elab.Term.elabTerm : True"
    assert fake.described[-1][0] == ("Lean",)
    globbed = kimina.rg_in_mathlib(r"add_comm", "Lean/*", "import Lean", verifier=fake)
    assert globbed == "Lean/Elab/Term.lean: Lean.Elab.Term.add_comm_lean : True"


def test_rg_says_when_it_cut_the_hits(fake):
    out = kimina.rg_in_mathlib(r"^Nat\.add_comm_\d$", verifier=fake).splitlines()
    assert len(out) == kimina.MAX_RG_HITS + 1
    assert out[0] == "Init/Data/Nat/Basic.lean: Nat.add_comm_0 : True"
    assert out[-1].startswith("[showing 5 of 7 matching declarations;")
    # five or fewer matches: no note
    exact = kimina.rg_in_mathlib(r"^Nat\.add_comm_[0-4]$", verifier=fake)
    assert len(exact.splitlines()) == 5 and "showing" not in exact
    # and a signature is clipped to one line of at most MAX_SIGNATURE_CHARS, as in search
    (sig,) = kimina.rg_in_mathlib(r"long_signature", verifier=fake).splitlines()
    assert len(sig) <= len("Init/Prelude.lean: ") + MAX_SIGNATURE_CHARS and sig.endswith("…")


def test_rg_refuses_a_pattern_that_does_not_compile_or_backtracks(fake):
    with pytest.raises(ToolError, match=r"pattern '\(' is not a valid regular expression"):
        kimina.rg_in_mathlib("(", verifier=fake)
    # Python's `re` takes time exponential in the name's length here: this would not return.
    t = time.monotonic()
    with pytest.raises(ToolError, match=r"took more than 0.3 s .* use a simpler pattern"):
        kimina.rg_in_mathlib(r"^(.|..)*[!?]$", verifier=fake, timeout_s=0.3)
    assert time.monotonic() - t < 3
    assert kimina.RG_TIMEOUT_S <= 5  # the MCP tool's description promises a short limit


def test_search_says_when_more_matched_than_the_limit(fake):
    out = tools.search("add_comm", limit=3, verifier=fake).splitlines()
    assert out[0].startswith("3 of 7 declarations matching 'add_comm' (substring match")
    assert len(out) == 5 and out[-1].startswith("[showing 3 of 7 matching declarations; raise limit")
    every = tools.search("add_comm", limit=10, verifier=fake)
    assert every.startswith("7 declaration(s) matching") and "showing" not in every
    assert "Lean.Elab.Term.add_comm_lean" in tools.search(
        "add_comm_lean", header="import Lean", verifier=fake
    )


def test_mcp_rg_in_mathlib_takes_a_header_and_reports_refusals(fake):
    pytest.importorskip("mcp")
    from mcp.server.mcpserver.exceptions import ToolError as MCPToolError

    from leanfd.env.mcp_server import build_server

    server = build_server(fake, timeout_s=5, warm=False)

    async def go():
        listed = {t.name: t for t in await server.list_tools()}
        props = listed["rg_in_mathlib"].input_schema["properties"]
        assert set(props) == {"pattern", "file_glob_pattern", "header"}
        assert "more" in listed["search"].description
        found = await server.call_tool("rg_in_mathlib", {"pattern": "elabTerm$", "header": "import Lean"})
        assert not found.is_error and "Lean.Elab.Term.elabTerm" in found.content[0].text
        # the tool's refusal reaches the client as an error result with the tool's message
        with pytest.raises(MCPToolError, match="not a valid regular expression"):
            await server.call_tool("rg_in_mathlib", {"pattern": "a**"})

    anyio.run(go)
