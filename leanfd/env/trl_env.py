"""A TRL ``environment_factory`` for ``GRPOTrainer``: multi-turn tool use on Lean problems.

TRL builds one :class:`LeanToolEnv` per rollout with no arguments, calls ``reset(**row)`` with the
dataset row (its ``statement`` column, and optional ``header`` and ``name``, set the problem; the
returned text is appended to the last user message), offers the public methods ``check``,
``goals``, ``search`` and ``read`` as tools (schemas from their type hints and docstrings), masks
the tool results out of the loss (``tool_mask``), and reads the reward from ``get_reward()``
(1.0 once a ``check`` proved the theorem). The statement is the env's, so the model cannot change
what is proved. The tokenizer needs a chat template TRL parses tool calls for (its ``qwen2_5``,
``qwen3`` or Llama-3.1 templates; SmolLM2's is not one):

    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import qwen2_5_chat_template

    tokenizer.chat_template = qwen2_5_chat_template
    trainer = GRPOTrainer(model, args=GRPOConfig(..., max_tool_calling_iterations=4),
                          train_dataset=rows, processing_class=tokenizer, environment_factory=LeanToolEnv)

Set ``LeanToolEnv.verifier`` (or pass a factory such as ``functools.partial(LeanToolEnv, verifier=v)``)
to use another verifier than the shared one.
"""

from __future__ import annotations

from leanfd.data.problem import Problem
from leanfd.env.tools import ToolError, goals, read, run_check, search
from leanfd.lean.verify import Verifier, VerifyInputError

PROMPT = (
    "\n\nProve this Lean 4 theorem (core Lean, no Mathlib):\n```lean\n{code}\n```\n"
    "Call `check` with a proof (the text after `:=`, e.g. `by omega`) until Lean accepts it; "
    "`goals`, `search` and `read` help."
)


class LeanToolEnv:
    """One rollout's environment; see the module docstring."""

    #: Class-wide defaults, so TRL can build the class with no arguments.
    verifier: Verifier | None = None
    feedback: str = "errors"

    def __init__(self, verifier: Verifier | None = None, feedback: str | None = None) -> None:
        self._verifier = verifier if verifier is not None else type(self).verifier
        self._feedback = feedback or type(self).feedback
        self._problem: Problem | None = None
        self.proved = False
        #: every tool call of the rollout: ``{name, arguments, result}``, plus ``status`` for checks
        self.calls: list[dict] = []

    def reset(self, **row) -> str:
        statement = row.get("statement")
        if not statement:
            raise ValueError(
                "LeanToolEnv needs a 'statement' column in the training rows (the theorem up to ':='), "
                f"got columns {sorted(row)}"
            )
        header = row.get("header") or ""
        self._problem = Problem(str(row.get("name") or "problem"), statement, header)
        self.proved = False
        self.calls = []
        code = (header.strip() + "\n\n" if header.strip() else "") + statement.strip()
        return PROMPT.format(code=code)

    def get_reward(self) -> float:
        return 1.0 if self.proved else 0.0

    def _problem_or_fail(self) -> Problem:
        if self._problem is None:
            raise RuntimeError("reset() was not called")
        return self._problem

    def _log(self, name: str, arguments: dict, result: str, **extra) -> str:
        self.calls.append({"name": name, "arguments": arguments, "result": result, **extra})
        return result

    def check(self, code: str) -> str:
        """Check Lean code against the theorem; the episode's reward is 1 once a check proves it.

        Args:
            code: A proof (the text after the theorem's `:=`, e.g. `by omega`), or the whole theorem with
                helper lemmas before it.

        Returns:
            The verdict and, if it fails, Lean's errors, each with the goal before it and the lines around it.
        """
        try:
            out = run_check(self._problem_or_fail(), code, feedback=self._feedback, verifier=self._verifier)
        except (ToolError, VerifyInputError) as e:
            return self._log("check", {"code": code}, f"error: {e}")
        self.proved = self.proved or out.verdict.ok
        return self._log("check", {"code": code}, out.text, status=out.verdict.status)

    def goals(self, code: str, line: int) -> str:
        """Show the goal state at a line of a partial proof (it may end anywhere, or in `sorry`).

        Args:
            code: A partial proof (the text after the theorem's `:=`).
            line: The line of `code` to show the goals at, counted from 1.

        Returns:
            The goals before and after that line.
        """
        p = self._problem_or_fail()
        try:
            result = goals(p.statement, code, line, p.header, verifier=self._verifier)
        except (ToolError, VerifyInputError) as e:
            result = f"error: {e}"
        return self._log("goals", {"code": code, "line": line}, result)

    def search(self, query: str) -> str:
        """Find library declarations whose name matches a query, with their types.

        Args:
            query: Part of a declaration name, e.g. `add_comm` or `Nat.lt_irrefl`.

        Returns:
            Up to 10 matching declarations, one signature per line.
        """
        try:
            result = search(query, 10, self._problem_or_fail().header, verifier=self._verifier)
        except (ToolError, VerifyInputError) as e:
            result = f"error: {e}"
        return self._log("search", {"query": query}, result)

    def read(self, name: str) -> str:
        """Show one declaration's signature, and its docstring where the library has one.

        Args:
            name: The full declaration name, e.g. `Nat.add_comm`.

        Returns:
            The signature, kind and module of the declaration.
        """
        try:
            result = read(name, self._problem_or_fail().header, verifier=self._verifier)
        except (ToolError, VerifyInputError) as e:
            result = f"error: {e}"
        return self._log("read", {"name": name}, result)
