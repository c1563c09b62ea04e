"""Comments cite what a reader can find: a paper (arXiv id), a public project, or the reason said in
place, never a path outside the repository (a session's notes such as ``shared/facts``) or a bare
"(facts)"."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "leanfd"
_OUTSIDE = re.compile(r"\.\./shared/|\bshared/facts\b|\bfacts/\w+\.md\b|\(facts\)")


def test_no_citation_points_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT.parent)}:{n}: {line.strip()}"
        for path in sorted(ROOT.rglob("*"))
        if path.suffix in {".py", ".lean", ".md"}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert not found, "cite the paper or say the reason in place:\n" + "\n".join(found)
