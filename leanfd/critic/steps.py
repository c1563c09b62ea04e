"""Split a Lean 4 proof into the steps a reader would name, each with its span and nesting depth.

Hand-written over Lean's layout rules, because no Python package parses Lean 4 tactic syntax
(PyPI has only toolchain launchers such as lean-interact or leanclient, which need a native Lean;
the parsers that exist are Lean itself and Rust crates for other dialects). Lean's own rule is
column-based: the tactics of a block start at the column of its first tactic, a line indented
further continues the current tactic, a line indented less ends the block, and ``;``/``<;>`` chain
tactics on one line. Brackets, strings and comments are skipped so that ``simp [a, b]`` or
``⟨by simp; omega, rfl⟩`` stay one step.

Positions follow :class:`leanfd.lean.types.LeanMessage`: line 1-based, column 0-based (code points),
line 1 is the first line of the proof text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from leanfd.syntax import Token, tokenize

#: Tactics that introduce an intermediate fact (their proof may be a nested ``by`` block).
_HAVE_LIKE = {"have", "haveI", "have'", "suffices", "obtain", "replace", "let", "letI"}


@dataclass(frozen=True)
class Span:
    """A range in the proof text: start ``(line, col)`` inclusive, end ``(end_line, end_col)`` exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    def contains(self, line: int, col: int) -> bool:
        return (self.line, self.col) <= (line, col) < (self.end_line, self.end_col)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """One step of a proof.

    ``kind`` is ``tactic`` (a tactic, or one part of a ``;``/``<;>`` chain), ``have`` (``have``,
    ``obtain``, ``suffices``…; a multi-line ``:= by`` proof gives it nested steps), ``focus`` (a ``·`` block), ``case`` (``case``/``next``),
    ``alt`` (an ``| pattern =>`` alternative of ``induction``/``cases``/``match``), ``calc`` and
    ``calc_step``, or ``term`` (a whole term-mode proof). ``text`` is the exact source of the span;
    ``head`` its first line. ``parent`` is the index of the enclosing step (``None`` at top level).
    ``start``/``end`` are character offsets into the proof text.
    """

    index: int
    text: str
    span: Span
    depth: int
    kind: str
    parent: int | None
    start: int
    end: int

    @property
    def head(self) -> str:
        return self.text.split("\n", 1)[0]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["span"] = self.span.to_dict()
        return d


@dataclass(frozen=True)
class Block:
    """A tactic sequence: opened by ``opener`` (the ``by``, ``·`` or ``=>`` token), holding the
    indices of its direct steps in order. ``owner`` is the step the block belongs to (``None`` for
    the proof's top-level ``by``)."""

    opener: Span
    steps: tuple[int, ...]
    owner: int | None


@dataclass(frozen=True)
class ProofSteps:
    """A proof split into steps (pre-order: a parent comes before its nested steps) and blocks."""

    proof: str
    steps: list[Step]
    blocks: list[Block]
    tactic_mode: bool

    def children(self, index: int) -> list[int]:
        return [s.index for s in self.steps if s.parent == index]

    def descendants(self, index: int) -> list[int]:
        out, todo = [], self.children(index)
        while todo:
            i = todo.pop(0)
            out.append(i)
            todo[:0] = self.children(i)
        return out

    def leaves(self) -> list[Step]:
        parents = {s.parent for s in self.steps}
        return [s for s in self.steps if s.index not in parents]

    def innermost_at(self, line: int, col: int) -> Step | None:
        """The deepest step whose span contains ``(line, col)``."""
        best = None
        for s in self.steps:
            if s.span.contains(line, col) and (best is None or s.depth >= best.depth):
                best = s
        return best

    def last_before(self, line: int, col: int) -> Step | None:
        """The deepest step that starts at or before ``(line, col)`` (the last one in text order)."""
        best = None
        for s in self.steps:
            if (s.span.line, s.span.col) <= (line, col):
                best = s
        return best


# --------------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Node:
    kind: str
    first: int  # token index
    last: int  # token index (inclusive)
    blocks: list[tuple[int, list[_Node]]] = field(default_factory=list)  # (opener token, nodes)


class _Parser:
    def __init__(self, toks: list[Token]) -> None:
        self.t = toks
        self.n = len(toks)

    def _ends_line(self, k: int, col: int, base: int) -> bool:
        """Whether token ``k`` ends a tactic of a block at column ``col`` and bracket depth ``base``."""
        t = self.t[k]
        if t.depth < base:
            return True
        if not t.line_start or t.depth > base:  # inside brackets Lean ignores layout, and so do we
            return False
        if t.text == "|":  # an alternative never starts a tactic: it continues the one above
            return t.col < col
        return t.col <= col

    def block(self, i: int, outer_col: int) -> tuple[list[_Node], int]:
        """Parse the tactic sequence starting at token ``i``; return its nodes and the next index.

        ``outer_col`` is the column of the enclosing tactic: a line starting at or left of it can
        never belong to this block.
        """
        if i >= self.n or (self.t[i].line_start and self.t[i].col <= outer_col):
            return [], i
        col, base = self.t[i].col, self.t[i].depth
        nodes: list[_Node] = []
        while i < self.n:
            t = self.t[i]
            if t.depth < base or (t.line_start and t.col < col):
                break
            if nodes and t.line_start and t.col > col:  # stray continuation: attach to last step
                nodes[-1].last = i
                i += 1
                continue
            node, i = self.tactic(i, col, base)
            nodes.append(node)
            if i < self.n and self.t[i].text in (";", "<;>") and self.t[i].depth == base:
                i += 1
        return nodes, i

    def tactic(self, i: int, col: int, base: int) -> tuple[_Node, int]:
        head = self.t[i].text
        if head in ("·", "."):
            node = _Node("focus", i, i)
            return node, self._nested(node, i, i + 1, col)
        if head in ("case", "case'", "next"):
            return self._headed(_Node("case", i, i), i + 1, col, base)
        if head == "calc":
            return self._calc(i, col, base)
        node = _Node("have" if head in _HAVE_LIKE else "tactic", i, i)
        j = i + 1
        while j < self.n and not self._ends_line(j, col, base):
            t = self.t[j]
            if t.depth == base:
                if t.text in (";", "<;>"):
                    break
                if t.text == "by":
                    return node, self._nested(node, j, j + 1, col)
                if t.text == "|" and t.line_start and self._alt_header_end(j, base) is not None:
                    return node, self._alts(node, j, base)
            node.last = j
            j += 1
        return node, j

    def _nested(self, node: _Node, opener: int, i: int, outer_col: int) -> int:
        """Parse the block after ``opener`` into ``node``; a lone same-line tactic after ``by`` stays
        part of ``node`` (``have h : p := by simp`` is one step)."""
        nodes, end = self.block(i, outer_col)
        if not nodes:
            return i
        node.last = max(node.last, nodes[-1].last)
        lone = (
            self.t[opener].text == "by"
            and len(nodes) == 1
            and not nodes[0].blocks
            and self.t[nodes[0].first].line == self.t[opener].line
        )
        if not lone:
            node.blocks.append((opener, nodes))
        return end

    def _alt_header_end(self, j: int, base: int) -> int | None:
        """Index of the ``=>`` ending the alternative header that starts at ``|`` token ``j``."""
        line = self.t[j].line
        for k in range(j + 1, self.n):
            t = self.t[k]
            if t.line != line or (t.depth == base and t.text in (";", "<;>")):
                return None
            if t.depth == base and t.text == "=>":
                return k
        return None

    def _headed(self, node: _Node, j: int, col: int, base: int) -> tuple[_Node, int]:
        """``case tag x => tacs`` / ``next => tacs``: header up to ``=>``, then a nested block."""
        while j < self.n and not self._ends_line(j, col, base):
            if self.t[j].text == "=>" and self.t[j].depth == base:
                node.last = j
                return node, self._nested(node, j, j + 1, col)
            node.last = j
            j += 1
        return node, j

    def _alts(self, node: _Node, j: int, base: int) -> int:
        alt_col = self.t[j].col
        alts: list[_Node] = []
        while j < self.n and self.t[j].text == "|" and self.t[j].line_start and self.t[j].col == alt_col:
            arrow = self._alt_header_end(j, base)
            if arrow is None:
                break
            alt = _Node("alt", j, arrow)
            j = self._nested(alt, arrow, arrow + 1, alt_col)
            alts.append(alt)
        node.last = alts[-1].last
        node.blocks.append((alts[0].first, alts))
        return j

    def _calc(self, i: int, col: int, base: int) -> tuple[_Node, int]:
        node = _Node("calc", i, i)
        steps: list[_Node] = []
        j = i + 1
        while j < self.n and not self._ends_line(j, col, base):
            step = _Node("calc_step", j, j)
            j += 1
            while j < self.n and not self._ends_line(j, col, base):
                t = self.t[j]
                if t.line_start and t.depth == base and t.text.startswith("_"):
                    break
                if t.depth == base and t.text == "by":
                    j = self._nested(step, j, j + 1, self.t[step.first].col)
                    break
                step.last = j
                j += 1
            steps.append(step)
        if steps:
            node.last = steps[-1].last
            node.blocks.append((i, steps))
        return node, j


def split_steps(proof: str) -> ProofSteps:
    """Split ``proof`` (the text after the statement's ``:=``) into steps.

    >>> [s.text for s in split_steps("by\\n  intro n\\n  omega").steps]
    ['intro n', 'omega']
    >>> [(s.text, s.depth) for s in split_steps("by\\n  constructor\\n  · simp; omega").steps]
    [('constructor', 0), ('· simp; omega', 0), ('simp', 1), ('omega', 1)]
    >>> [s.kind for s in split_steps("fun n => Nat.le_refl n").steps]
    ['term']
    """
    toks = tokenize(proof)
    steps: list[Step] = []
    blocks: list[Block] = []
    if not toks:
        return ProofSteps(proof, steps, blocks, tactic_mode=False)

    def span_of(first: int, last: int) -> Span:
        a, b = toks[first], toks[last]
        end_text = proof[: b.end]
        end_line = end_text.count("\n") + 1
        end_col = b.end - (end_text.rfind("\n") + 1)
        return Span(a.line, a.col, end_line, end_col)

    def emit(node: _Node, depth: int, parent: int | None) -> int:
        idx = len(steps)
        a, b = toks[node.first], toks[node.last]
        steps.append(
            Step(
                idx,
                proof[a.start : b.end],
                span_of(node.first, node.last),
                depth,
                node.kind,
                parent,
                a.start,
                b.end,
            )
        )
        for opener, nodes in node.blocks:
            emit_block(opener, nodes, depth + 1, idx)
        return idx

    def emit_block(opener: int, nodes: list[_Node], depth: int, owner: int | None) -> None:
        slot = len(blocks)
        blocks.append(Block(span_of(opener, opener), (), owner))  # placeholder keeps pre-order
        ids = tuple(emit(nd, depth, owner) for nd in nodes)
        blocks[slot] = Block(blocks[slot].opener, ids, owner)

    if toks[0].text == "by":
        nodes, _ = _Parser(toks).block(1, -1)
        emit_block(0, nodes, 0, None)
        return ProofSteps(proof, steps, blocks, tactic_mode=True)
    emit(_Node("term", 0, len(toks) - 1), 0, None)
    return ProofSteps(proof, steps, blocks, tactic_mode=False)


def token_positions(proof: str, names: set[str]) -> list[Token]:
    """Code tokens of ``proof`` whose text is in ``names`` (comments and strings are not code)."""
    return [t for t in tokenize(proof) if t.text in names]
