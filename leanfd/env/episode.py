"""Multi-turn episodes on one problem, recorded token in, token out.

``LeanEnv(problem, tokenizer)`` gives the prompt as token ids (``reset``); each ``step`` takes the
ids the policy produced for its turn, decodes them once to read the action, runs it (a ``check``,
``goals``, ``search`` or ``read``), and appends the environment's reply as ids. Nothing is ever
re-tokenised: the record (:class:`Episode`) holds every id in order with a mask (1 = policy token,
0 = environment token) and the policy's log-probs, which is all a trainer needs. The statement is
the env's, so nothing the model writes changes what is proved.

Two protocols:

- ``native``: tool calling through the tokenizer's chat template (``tools=`` JSON schemas, role
  ``tool``; Qwen2.5/3, Llama-3.1 style templates). A turn without a tool call but with a
  ```` ```lean ```` block is a ``check``, answered as a user turn.
- ``plain``, for any chat model: a ```` ```lean ```` block is a ``check``; tool calls are tagged JSON,
  ``<tool_call>{"name": …, "arguments": …}</tool_call>``; results come back as a user turn.

**The reply rule.** The reply's ids are the chat template's rendering of the new message(s) plus
the generation prompt, after a fixed two-message conversation (user, assistant): the rendering of
``[user, assistant, *new]`` from just after the assistant's end-of-turn token (the k-th such token,
k being how many the two messages alone render). This is the rule TRL's ``GRPOTrainer`` uses,
made to hold also where a template renders the last assistant turn differently (Qwen3 adds an
empty ``<think>`` block to it). On a prefix-preserving template this is exactly the template's
rendering of the whole conversation (tested for SmolLM2, Qwen2.5 and Llama-3.1). On one that is not
(Qwen3 drops earlier turns' reasoning), the rule still gives what the model saw, token for token,
but re-rendering the conversation would give other ids: ``env.prefix_preserving`` is then False
and a warning says so. If the policy's turn does not end with the end-of-turn token (cut by a
token limit), the reply starts with it, as an environment token.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from leanfd.data.problem import Problem
from leanfd.env.actions import CALL_EXAMPLE, Call, parse_action
from leanfd.env.tools import FEEDBACK_FORMATS, CheckOutcome, ToolError, goals, read, run_check, search
from leanfd.lean.types import Verdict
from leanfd.lean.verify import Verifier, VerifyInputError

PROTOCOLS = ("native", "plain")
DEFAULT_TOOLS = ("check", "goals", "search", "read")


def _schema(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_CODE = {
    "type": "string",
    "description": "A proof (the text after the theorem's `:=`, e.g. `by omega`), or the whole theorem "
    "with any helper lemmas before it.",
}
#: JSON schemas of the episode's tools (the statement and header are the env's, so they are not
#: arguments).
TOOL_SCHEMAS: dict[str, dict] = {
    "check": _schema(
        "check",
        "Check Lean code against the theorem. Returns the verdict and, if it fails, Lean's errors, "
        "each with the goal before it and the lines around it. The episode ends when it is proved.",
        {"code": _CODE},
        ["code"],
    ),
    "goals": _schema(
        "goals",
        "Show the goal state at a line of a partial proof (it may end anywhere, or in `sorry`).",
        {"code": _CODE, "line": {"type": "integer", "description": "Line number in `code`, from 1."}},
        ["code", "line"],
    ),
    "search": _schema(
        "search",
        "Find library declarations whose name matches a query (substring, then fuzzy), with their types.",
        {
            "query": {"type": "string", "description": "Part of a name, e.g. `add_comm` or `Nat.lt_irrefl`."},
            "limit": {"type": "integer", "description": "How many results (default 10)."},
        },
        ["query"],
    ),
    "read": _schema(
        "read",
        "Show one declaration's signature, and its docstring where the library has one.",
        {"name": {"type": "string", "description": "The full name, e.g. `Nat.add_comm`."}},
        ["name"],
    ),
}

PLAIN_SYSTEM = """You prove theorems in Lean 4 (core Lean: Init, Std and Lean; no Mathlib). In each turn, do one of:
- write a proof in a ```lean block: the text after the theorem's `:=` (e.g. `by omega`), or the whole theorem, with helper lemmas before it if you need them. Lean checks it and replies with its errors.
- call a tool, written as <tool_call>{{"name": NAME, "arguments": {{...}}}}</tool_call>. The tools:
{tools}
You have {turns} turns. The episode ends when Lean accepts a proof."""

NATIVE_SYSTEM = """You prove theorems in Lean 4 (core Lean: Init, Std and Lean; no Mathlib). Use the tools to check proofs, see goals and search the library. A proof is the text after the theorem's `:=` (e.g. `by omega`), or the whole theorem with helper lemmas before it. You have {turns} turns; the episode ends when a check proves the theorem."""

USER_PROMPT = "Prove this theorem:\n```lean\n{code}\n```"


@dataclass
class Observation:
    """What the environment appended: its ``ids`` (at reset, the whole prompt), their ``text``, and
    how many more tokens the episode may take (cap the next turn's sampling with it)."""

    ids: list[int]
    text: str
    remaining_tokens: int


@dataclass
class Turn:
    """One policy turn: its text, where its ids lie in :attr:`Episode.ids` (``[start, end)``), the
    calls it made with their results, the verdicts of its checks, and the env's reply: its
    ``messages`` and their text (``observation``); ``appended`` is False when the episode ended
    first and the reply was not added to the ids."""

    action: str
    start: int
    end: int
    calls: list[dict] = field(default_factory=list)
    verdicts: list[dict] = field(default_factory=list)
    observation: str = ""
    messages: list[dict] = field(default_factory=list)
    appended: bool = False


@dataclass
class Episode:
    """The token-in/token-out record of one episode. ``mask[i]`` is 1 for a token the policy
    produced and 0 for one the environment added (prompt, replies); ``logprobs[i]`` is the policy's
    log-prob of ``ids[i]`` where given, else None. ``texts`` are the decoded pieces in order, so
    ``"".join(texts)`` is the transcript and equals ``tokenizer.decode(ids)``."""

    problem: dict
    protocol: str
    ids: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    logprobs: list[float | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    prompt_len: int = 0
    turns: list[Turn] = field(default_factory=list)
    proved: bool = False
    reward: float = 0.0
    done: bool = False
    stop: str = ""  # proved | max_turns | max_tokens

    @property
    def transcript(self) -> str:
        return "".join(self.texts)

    def to_dict(self) -> dict:
        return asdict(self)


def supports_native_tools(tokenizer) -> bool:
    """Whether the tokenizer's chat template renders a whole tool exchange (tool schemas, the
    assistant's call with its arguments, and the tool's result), as TRL checks it."""
    if getattr(tokenizer, "chat_template", None) is None:
        return False
    sentinels = ("name_a8f3e2b1", "key_b9d4f5c2", "val_d6e7a9f3", "result_c4f9a8e2")
    call = {"type": "function", "function": {"name": sentinels[0], "arguments": {sentinels[1]: sentinels[2]}}}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": sentinels[0], "content": sentinels[3]},
    ]
    try:
        text = tokenizer.apply_chat_template(messages, tools=[TOOL_SCHEMAS["read"]], tokenize=False)
    except Exception:  # a template that rejects the roles or the tools argument
        return False
    return all(s in text for s in sentinels) and '"read"' in text


class LeanEnv:
    """One episode on ``problem`` (see the module docstring for the protocols and the reply rule).

    ``tokenizer`` is any object with the transformers tokenizer interface (``apply_chat_template``,
    ``encode``, ``decode``, ``eos_token_id``). ``tools`` names the tools offered (``check`` is
    always one); ``max_turns`` bounds policy turns and ``max_tokens`` the whole sequence, prompt
    included; ``feedback`` is ``check``'s format (``errors``, ``critique`` or ``binary``).
    ``protocol`` is ``native``, ``plain`` or ``auto`` (native where the template supports it).
    """

    def __init__(
        self,
        problem: Problem,
        tokenizer,
        tools: Sequence[str] = DEFAULT_TOOLS,
        max_turns: int = 4,
        max_tokens: int = 4096,
        feedback: str = "errors",
        *,
        protocol: str = "auto",
        verifier: Verifier | None = None,
        timeout_s: float | None = None,
        system_prompt: str | None = None,
        end_of_turn: str | None = None,
    ) -> None:
        unknown = [t for t in tools if t not in TOOL_SCHEMAS]
        if unknown:
            raise ValueError(f"unknown tools {unknown}; choose from {', '.join(TOOL_SCHEMAS)}")
        if feedback not in FEEDBACK_FORMATS:
            raise ValueError(f"unknown feedback {feedback!r}; use one of {', '.join(FEEDBACK_FORMATS)}")
        if max_turns < 1 or max_tokens < 1:
            raise ValueError(f"max_turns and max_tokens must be >= 1, got {max_turns} and {max_tokens}")
        if protocol not in (*PROTOCOLS, "auto"):
            raise ValueError(f"unknown protocol {protocol!r}; use native, plain or auto")
        native = supports_native_tools(tokenizer)
        if protocol == "native" and not native:
            raise ValueError(
                "this tokenizer's chat template cannot render tool calls and tool results; use "
                "protocol='plain', or give the tokenizer a tool-calling template (e.g. TRL's qwen2_5)"
            )
        self.problem = problem
        self.tokenizer = tokenizer
        self.tools = tuple(dict.fromkeys(("check", *tools)))
        self.max_turns = max_turns
        self.max_tokens = max_tokens
        self.feedback = feedback
        self.protocol = protocol if protocol != "auto" else ("native" if native else "plain")
        self.verifier = verifier
        self.timeout_s = timeout_s
        self.system_prompt = system_prompt
        self.end_of_turn_id: int = (
            tokenizer.convert_tokens_to_ids(end_of_turn)
            if end_of_turn is not None
            else self._find_end_of_turn()
        )
        self.prefix_preserving = self._prefix_preserving()
        if not self.prefix_preserving:
            warnings.warn(
                "this chat template is not prefix-preserving (re-rendering a conversation changes earlier "
                "turns); episodes record the ids the model saw, built by the reply rule in leanfd.env.episode",
                stacklevel=2,
            )
        self._handlers: dict[str, Callable[..., str]] = {
            "check": self._check,
            "goals": self._goals,
            "search": self._search,
            "read": self._read,
        }
        self.episode: Episode | None = None
        #: every check of the episode in order, as verified (attempt and the whole verdict, goals
        #: included): what a trainer's feedback on the episode's last failed check needs
        self.checks: list[CheckOutcome] = []

    # -- rendering
    @property
    def schemas(self) -> list[dict]:
        return [TOOL_SCHEMAS[t] for t in self.tools]

    def _render(self, messages: list[dict], generation_prompt: bool) -> list[int]:
        kw = {"tools": self.schemas} if self.protocol == "native" else {}
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt, **kw
        )
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _dummy(self, tool_names: list[str]) -> list[dict]:
        msg: dict = {"role": "assistant", "content": "ok"}
        if tool_names:
            msg["tool_calls"] = [
                {"type": "function", "function": {"name": n, "arguments": {}}} for n in tool_names
            ]
        return [{"role": "user", "content": "ok"}, msg]

    def reply_ids(self, messages: list[dict], policy_closed: bool) -> list[int]:
        """The ids of ``messages`` (the env's reply) plus the generation prompt, by the reply rule;
        with the end-of-turn token first when the policy's turn did not end with it."""
        tool_names = [m.get("name", "") for m in messages if m["role"] == "tool"]
        dummy = self._dummy(tool_names)
        prefix = self._render(dummy, False)
        full = self._render(dummy + messages, True)
        k = prefix.count(self.end_of_turn_id)
        ends = [i for i, t in enumerate(full) if t == self.end_of_turn_id]
        if k == 0 or len(ends) <= k - 1:
            eot = self.tokenizer.convert_ids_to_tokens(self.end_of_turn_id)
            raise ValueError(
                f"the chat template does not end an assistant turn with {eot!r}; pass end_of_turn= "
                "with the token it uses"
            )
        cut = ends[k - 1] + 1  # just after the dummy assistant's end of turn
        return full[cut:] if policy_closed else full[cut - 1 :]

    def _find_end_of_turn(self) -> int:
        """The token that ends an assistant turn: the last special token the template renders after
        a one-turn conversation (``<|im_end|>`` for ChatML, ``<|eot_id|>`` for Llama 3)."""
        special = set(self.tokenizer.all_special_ids) | set(self.tokenizer.get_added_vocab().values())
        ids = self._render(self._dummy([]), False)
        found = [t for t in ids if t in special]
        if not found:
            raise ValueError(
                "cannot tell which token ends an assistant turn in this chat template; pass end_of_turn="
            )
        return found[-1]

    def _prefix_preserving(self) -> bool:
        user = {"role": "user", "content": "u"}
        thought = {"role": "assistant", "content": "<think>\nr\n</think>\n\na"}
        cases = [([user, thought], [{"role": "user", "content": "v"}])]
        if self.protocol == "native":
            call = {"type": "function", "function": {"name": "read", "arguments": {"name": "x"}}}
            cases.append(
                (
                    [user, {**thought, "tool_calls": [call]}],
                    [{"role": "tool", "name": "read", "content": "t"}],
                )
            )
        for base, more in cases:
            a, b = self._render(base, False), self._render(base + more, True)
            if b[: len(a)] != a:
                return False
        return True

    def initial_messages(self, context: str = "") -> list[dict]:
        """The system message and the question. ``context`` (a trainer's feedback block for its
        teacher) goes after the question in the user message; empty, it adds nothing."""
        p = self.problem
        code = (p.header.strip() + "\n\n" if p.header.strip() else "") + p.statement.strip()
        if self.system_prompt is not None:
            system = self.system_prompt
        elif self.protocol == "native":
            system = NATIVE_SYSTEM.format(turns=self.max_turns)
        else:
            lines = []
            for t in self.tools:
                f = TOOL_SCHEMAS[t]["function"]
                args = ", ".join(f["parameters"]["properties"])
                lines.append(f"  - {t}({args}): {f['description']}")
            system = PLAIN_SYSTEM.format(tools="\n".join(lines), turns=self.max_turns)
        question = USER_PROMPT.format(code=code)
        if context.strip():
            question += "\n\n" + context.strip()
        return [{"role": "system", "content": system}, {"role": "user", "content": question}]

    def prompt_ids(self, context: str = "") -> list[int]:
        """The prompt's ids (what :meth:`reset` starts the episode with), with ``context`` after the
        question (see :meth:`initial_messages`). A trainer's teacher reads an episode as
        ``prompt_ids(feedback) + episode.ids[episode.prompt_len:]``: the same turns and replies, id
        for id, after a prompt that also holds the feedback."""
        return self._render(self.initial_messages(context), True)

    # -- the episode
    def reset(self) -> Observation:
        """Start an episode; the observation holds the prompt's ids and text."""
        p = self.problem
        ep = Episode(
            problem={"name": p.name, "statement": p.statement, "header": p.header}, protocol=self.protocol
        )
        ids = self.prompt_ids()
        text = self._decode(ids)
        self._append(ep, ids, 0, None, text)
        ep.prompt_len = len(ids)
        self.episode = ep
        self.checks = []
        return Observation(ids, text, self.max_tokens - len(ep.ids))

    def step(
        self, token_ids: Sequence[int], logprobs: Sequence[float] | None = None
    ) -> tuple[Observation, float, bool, dict]:
        """Play the policy's turn (``token_ids``, with their ``logprobs`` if known). Returns the
        reply's observation, the reward (1.0 once a check proved the theorem, else 0.0), whether
        the episode is done, and ``info`` (this turn's calls, verdicts and the stop reason)."""
        ep = self.episode
        if ep is None:
            raise RuntimeError("call reset() before step()")
        if ep.done:
            raise RuntimeError("the episode is done; call reset() to start another")
        token_ids = [int(t) for t in token_ids]
        if logprobs is not None and len(logprobs) != len(token_ids):
            raise ValueError(f"{len(logprobs)} log-probs for {len(token_ids)} tokens")
        action = self._decode(token_ids)
        turn = Turn(action, len(ep.ids), len(ep.ids) + len(token_ids))
        self._append(ep, token_ids, 1, logprobs, action)
        ep.turns.append(turn)

        messages = self._act(turn)
        if ep.proved:
            ep.stop = "proved"
        elif len(ep.turns) >= self.max_turns:
            ep.stop = "max_turns"
        closed = bool(token_ids) and token_ids[-1] == self.end_of_turn_id
        ids = self.reply_ids(messages, closed) if not ep.stop else []
        text = self._decode(ids)
        turn.messages = messages
        turn.observation = "\n\n".join(m["content"] for m in messages)
        if not ep.stop and len(ep.ids) + len(ids) >= self.max_tokens:
            ep.stop, ids, text = "max_tokens", [], ""
        if not ep.stop:
            self._append(ep, ids, 0, None, text)
            turn.appended = True
        ep.done = bool(ep.stop)
        ep.reward = 1.0 if ep.proved else 0.0
        info = {"calls": turn.calls, "verdicts": turn.verdicts, "stop": ep.stop}
        return Observation(ids, text, max(0, self.max_tokens - len(ep.ids))), ep.reward, ep.done, info

    def _append(self, ep: Episode, ids: list[int], who: int, logprobs, text: str) -> None:
        ep.ids += ids
        ep.mask += [who] * len(ids)
        ep.logprobs += list(logprobs) if logprobs is not None else [None] * len(ids)
        ep.texts.append(text)

    # -- actions
    def _act(self, turn: Turn) -> list[dict]:
        """Run the turn's calls; return the reply messages (tool messages for native tool calls,
        else one user message)."""
        calls = parse_action(turn.action)
        if not calls:
            hint = (
                "No action found. Write a proof in a ```lean block, or call a tool"
                + (f", e.g. {CALL_EXAMPLE}" if self.protocol == "plain" else "")
                + "."
            )
            return [{"role": "user", "content": hint}]
        results = []
        for call in calls:
            results.append(self._run(call))
            turn.calls.append(
                {"name": call.name, "arguments": call.arguments, "source": call.source, **results[-1]}
            )
            if self.episode.proved:
                break
        native_calls = self.protocol == "native" and any(c.source in ("tool_call", "json") for c in calls)
        if native_calls:
            return [
                {"role": "tool", "name": c["name"] or "error", "content": c["result"]} for c in turn.calls
            ]
        if len(turn.calls) == 1 and calls[0].source == "lean_block":
            return [{"role": "user", "content": turn.calls[0]["result"]}]
        parts = [f"Result of {c['name'] or 'tool call'}:\n{c['result']}" for c in turn.calls]
        return [{"role": "user", "content": "\n\n".join(parts)}]

    def _run(self, call: Call) -> dict:
        if call.error:
            return {"result": f"error: {call.error}", "ok": False}
        if call.name not in self.tools:
            return {
                "result": f"error: unknown tool {call.name!r}; the tools are {', '.join(self.tools)}",
                "ok": False,
            }
        try:
            return {"result": self._handlers[call.name](**call.arguments), "ok": True}
        except (ToolError, VerifyInputError) as e:
            return {"result": f"error: {e}", "ok": False}
        except TypeError as e:  # missing or unexpected arguments
            f = TOOL_SCHEMAS[call.name]["function"]
            return {
                "result": f"error: {e}; {call.name} takes {json.dumps(list(f['parameters']['properties']))}",
                "ok": False,
            }

    def _check(self, code: str) -> str:
        if not isinstance(code, str):
            raise ToolError(f"code must be a string, got {type(code).__name__}")
        out = run_check(
            self.problem, code, feedback=self.feedback, verifier=self.verifier, timeout_s=self.timeout_s
        )
        turn = self.episode.turns[-1]
        turn.verdicts.append(_verdict_record(out.verdict))
        self.checks.append(out)
        if out.verdict.ok:
            self.episode.proved = True
        return out.text

    def _goals(self, code: str, line: int) -> str:
        p = self.problem
        return goals(p.statement, code, line, p.header, verifier=self.verifier, timeout_s=self.timeout_s)

    def _search(self, query: str, limit: int = 10) -> str:
        return search(query, limit, self.problem.header, verifier=self.verifier)

    def _read(self, name: str) -> str:
        return read(name, self.problem.header, verifier=self.verifier)


def _verdict_record(v: Verdict) -> dict:
    d = v.to_dict()
    d.pop("goals", None)  # large, and only the feedback needed them
    return d
