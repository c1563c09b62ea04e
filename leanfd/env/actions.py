"""Reading an action from the text of a model's turn.

Two shapes, as models write them: tool calls as tagged JSON, ``<tool_call>{"name": …, "arguments":
…}</tool_call>`` (Qwen and Hermes style, also what the plain protocol asks for), or a turn that is
one bare JSON object ``{"name": …, "parameters": …}`` (Llama-3.1 style); and a fenced ```` ```lean ````
block, which is a ``check`` of its code. A malformed call becomes a :class:`Call` with an
``error`` that says what was wrong, so the episode answers it instead of crashing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_CALL = re.compile(r"<tool_call>(.*?)(</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*(lean4?|)[ \t]*\n(.*?)```", re.DOTALL)
_SPECIAL = re.compile(r"<\|[^|>]{1,40}\|>")  # chat-template control tokens left in decoded text
MAX_CALLS_PER_TURN = 4
CALL_EXAMPLE = '<tool_call>{"name": "search", "arguments": {"query": "add_comm"}}</tool_call>'


@dataclass
class Call:
    """One action: a tool ``name`` with ``arguments``, or an ``error`` saying why it cannot run."""

    name: str
    arguments: dict = field(default_factory=dict)
    error: str | None = None
    source: str = "tool_call"  # tool_call | json | lean_block


def strip_control(text: str) -> str:
    """``text`` without chat-template control tokens (``<|im_end|>``, ``<|eot_id|>``…)."""
    return _SPECIAL.sub("", text)


def _from_json(raw: str, k: int) -> Call:
    raw = raw.strip()
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        return Call(
            "", error=f"tool call {k} is not valid JSON ({e.msg} at character {e.pos}); write {CALL_EXAMPLE}"
        )
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return Call("", error=f'tool call {k} needs a "name" string; write {CALL_EXAMPLE}')
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # some templates serialise arguments as a JSON string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            pass
    if not isinstance(args, dict):
        return Call(obj["name"], error=f'tool call {k} ("{obj["name"]}"): "arguments" must be a JSON object')
    return Call(obj["name"], args)


def parse_action(text: str) -> list[Call]:
    """The calls in one turn, in order: every ``<tool_call>`` block (at most
    :data:`MAX_CALLS_PER_TURN`); else a turn that is a single JSON call; else the last
    ```` ```lean ```` block as ``check``. An empty list means the turn held no action.

    >>> [(c.name, c.arguments) for c in parse_action('<tool_call>{"name": "read", "arguments": {"name": "Nat"}}</tool_call>')]
    [('read', {'name': 'Nat'})]
    >>> [(c.name, c.arguments) for c in parse_action("Try:\\n```lean\\nby simp\\n```")]
    [('check', {'code': 'by simp'})]
    >>> parse_action('<tool_call>{"name": "read"')[0].error
    'tool call 1 is not closed with </tool_call>'
    """
    text = strip_control(text)
    calls: list[Call] = []
    for k, m in enumerate(_CALL.finditer(text), 1):
        if not m.group(2):
            calls.append(Call("", error=f"tool call {k} is not closed with </tool_call>"))
        else:
            calls.append(_from_json(m.group(1), k))
    if calls:
        if len(calls) > MAX_CALLS_PER_TURN:
            calls = calls[:MAX_CALLS_PER_TURN] + [
                Call("", error=f"only the first {MAX_CALLS_PER_TURN} tool calls of a turn run")
            ]
        return calls
    bare = text.strip().removeprefix("<|python_tag|>").strip()
    if bare.startswith("{") and bare.endswith("}"):
        call = _from_json(bare, 1)
        if call.error is None:
            call.source = "json"
            return [call]
    blocks = _FENCE.findall(text)
    if blocks:
        return [Call("check", {"code": blocks[-1][1].rstrip("\n")}, source="lean_block")]
    return []
