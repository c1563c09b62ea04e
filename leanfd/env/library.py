"""Library search for agents: ``search`` (declarations by name) and ``read`` (one declaration).

The embedded build ships only ``.olean`` files (no sources to grep) and its interpreter lacks IR for
many library functions, so the work is split: a Lean session lists the environment's constant
names once per header (≈36k names for ``Init``, ≈100k for ``import Lean``), the matching runs here
in Python (substring first, then all words of the query, then fuzzy with rapidfuzz), and Lean
pretty-prints the signatures of the top hits only.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from leanfd.lean import backends
from leanfd.lean.verify import Verifier, split_header

# Constants no one searches for: auxiliary recursors and constructions, matchers, private names.
_AUX_LAST = frozenset(
    "rec recOn casesOn noConfusion noConfusionType below brecOn binductionOn ibelow ctorIdx toCtorIdx "
    "eq_def sizeOf_spec".split()
)
_AUX_PART = re.compile(r"^(?:_|match_\d+$|proof_\d+$|eq_\d+$|.*_sunfold$|.*_unsafe_rec$|_?spec_\d+$)")
_WORD_SPLIT = re.compile(r"[\s._]+|(?<=[a-z0-9])(?=[A-Z])")
#: Core Lean's real axioms. The embedded build ships imported theorems and definitions without
#: bodies, as axioms: Lean reports the Prop-typed ones as theorems, and the others are definitions.
REAL_AXIOMS = frozenset(
    "propext Classical.choice Quot.sound sorryAx Lean.ofReduceBool Lean.ofReduceNat Lean.trustCompiler".split()
)
MAX_SIGNATURE_CHARS = 400
MAX_DESCRIBED = 5000  # cached signatures per verifier


def is_searchable(name: str) -> bool:
    """Whether a constant is worth showing an agent (not an auxiliary or private construction).

    >>> [is_searchable(n) for n in ["Nat.add_comm", "Nat.rec", "List.map.match_1", "_private.X.0.f"]]
    [True, False, False, False]
    """
    parts = name.split(".")
    return parts[-1] not in _AUX_LAST and not any(_AUX_PART.match(p) for p in parts)


def query_words(query: str) -> list[str]:
    """The lower-case words of a query: split at dots, underscores, spaces and camelCase humps.

    >>> query_words("Nat.addComm le_of")
    ['nat', 'add', 'comm', 'le', 'of']
    """
    return [w.lower() for w in _WORD_SPLIT.split(query) if w]


@dataclass
class NameIndex:
    """The searchable constant names of one environment, with their modules."""

    names: list[str]
    modules: list[str]
    lower: list[str]
    last: list[str]  # lower-case last component

    @classmethod
    def build(cls, by_module: dict[str, list[str]]) -> NameIndex:
        names, modules = [], []
        for module, ns in by_module.items():
            for n in ns:
                if is_searchable(n):
                    names.append(n)
                    modules.append(module)
        lower = [n.lower() for n in names]
        return cls(names, modules, lower, [s.rsplit(".", 1)[-1] for s in lower])

    def __len__(self) -> int:
        return len(self.names)

    def match(self, query: str, limit: int) -> tuple[list[int], str, int]:
        """Indices of the best ``limit`` names for ``query``, how they were found, and how many names
        were found that way in all (more than ``limit`` when some were left out): ``substring``
        (ranked: exact last component, prefix of it, then shorter names), ``words`` (every word of
        the query appears), or ``fuzzy`` (edit similarity of the last component, at least 60)."""
        q = query.strip().lower()
        hits = [i for i, s in enumerate(self.lower) if q in s]
        if hits:

            def rank(i: int) -> tuple:
                last = self.last[i]
                return (
                    last != q,
                    self.lower[i] != q,
                    not last.startswith(q),
                    len(self.lower[i]),
                    self.lower[i],
                )

            return sorted(hits, key=rank)[:limit], "substring", len(hits)
        words = query_words(q)
        if len(words) > 1:
            hits = [i for i, s in enumerate(self.lower) if all(w in s for w in words)]
            if hits:
                ranked = sorted(hits, key=lambda i: (len(self.lower[i]), self.lower[i]))
                return ranked[:limit], "words", len(hits)
        from rapidfuzz import fuzz, process

        key = q.rsplit(".", 1)[-1].replace(" ", "_")
        found = process.extract(key, self.last, scorer=fuzz.ratio, limit=None, score_cutoff=60)
        return [i for _, _, i in found[:limit]], "fuzzy", len(found)


class Library:
    """Name search and declaration lookup over a verifier's environments, one index per header's
    imports (built on first use, kept for the life of the object)."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self._indexes: dict[tuple[str, ...], NameIndex] = {}
        self._described: OrderedDict[tuple[tuple[str, ...], str], dict] = OrderedDict()
        self._lock = threading.Lock()

    def index(self, header: str = "") -> NameIndex:
        imports, _ = split_header(header)
        with self._lock:
            if imports not in self._indexes:
                self._indexes[imports] = NameIndex.build(self.verifier.constant_names(imports))
            return self._indexes[imports]

    def describe(self, names: list[str], header: str = "") -> list[dict]:
        """``{name, kind, signature, doc, module}`` for each name (``kind`` is ``unknown`` for a name
        the environment lacks); signatures are cached per environment."""
        imports, _ = split_header(header)
        todo = [n for n in dict.fromkeys(names) if (imports, n) not in self._described]
        if todo:
            for d in self.verifier.describe_constants(imports, todo):
                if d["name"] in REAL_AXIOMS:
                    d["kind"] = "axiom"
                elif d.get("kind") == "axiom" and not backends.get(self.verifier.backend).full_library:
                    d["kind"] = "def"  # an imported definition shipped without its body
                self._described[(imports, d["name"])] = d
                while len(self._described) > MAX_DESCRIBED:
                    self._described.popitem(last=False)
        return [self._described.get((imports, n)) or {"name": n, "kind": "unknown"} for n in names]

    def search(self, query: str, limit: int = 10, header: str = "") -> str:
        idx = self.index(header)
        hits, how, total = idx.match(query, limit)
        if not hits:
            return f"No declaration name matches {query!r} (among {len(idx)} in this environment)."
        described = self.describe([idx.names[i] for i in hits], header)
        found = (
            f"{len(hits)} declaration(s)" if total == len(hits) else f"{len(hits)} of {total} declarations"
        )
        lines = [f"{found} matching {query!r} ({how} match, {len(idx)} names searched):"]
        for d in described:
            sig = d.get("signature") or d["name"]
            lines.append(one_line(sig, MAX_SIGNATURE_CHARS))
        if total > len(hits):
            lines.append(
                f"[showing {len(hits)} of {total} matching declarations; raise limit or refine the "
                f"query for the others]"
            )
        return "\n".join(lines)

    def read(self, name: str, header: str = "") -> str:
        (d,) = self.describe([name], header)
        if d["kind"] == "unknown":
            hits, _, _ = self.index(header).match(name, 5)
            near = ", ".join(self.index(header).names[i] for i in hits)
            return f"Unknown constant {name!r} in this environment." + (
                f" Close names: {near}" if near else ""
            )
        out = [d["signature"], f"kind: {d['kind']}" + (f"; module: {d['module']}" if d.get("module") else "")]
        if d.get("doc"):
            out.append("docstring:\n" + d["doc"].strip())
        elif not backends.get(self.verifier.backend).full_library:
            out.append("docstring: none available (the embedded Lean ships its library without docstrings)")
        else:
            out.append("docstring: none")
        return "\n".join(out)


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (runs of whitespace become one space), cut to ``limit`` characters with
    a final ``…``."""
    s = " ".join(text.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
