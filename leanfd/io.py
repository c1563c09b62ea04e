"""Files every package writes and reads: one atomic writer, JSONL read (strict or lenient) and append,
and the cache directory. A leaf module: it imports nothing from leanfd, so any package may use it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path


class InputError(ValueError):
    """A user-supplied file is malformed; the message names the file and line."""


def cache_dir() -> Path:
    """Where leanfd keeps downloaded artefacts (Lean toolchains, converted models): ``$LEANFD_CACHE``,
    else ``$XDG_CACHE_HOME/leanfd``, else ``~/.cache/leanfd``."""
    if os.environ.get("LEANFD_CACHE"):
        return Path(os.environ["LEANFD_CACHE"]).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(base) / "leanfd").resolve()


def atomic_write(path: str | Path, content: str | Callable[[Path], None]) -> Path:
    """Write ``path`` so a reader sees the old file or the new one, never half of one, and an
    interrupted run leaves the old file intact.

    ``content`` is the text (UTF-8) or a function that writes a given temporary path (a plot's
    ``savefig``, a DataFrame's ``to_csv``). The temporary file lies next to ``path`` (same file
    system, so the rename is atomic), reaches the disk before the rename, gets the permissions of
    an ordinary new file, and is removed if writing fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        if callable(content):
            os.close(fd)
            fd = -1
            content(tmp)
            fd = os.open(tmp, os.O_RDONLY)
        else:
            os.write(fd, content.encode("utf-8"))
        os.fsync(fd)
        os.replace(tmp, path)
    finally:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lines(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict]) -> Path:
    """Replace ``path`` with one JSON object per line, atomically (:func:`atomic_write`)."""
    return atomic_write(path, _lines(rows))


def append_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Append rows in one write and push them to disk before returning, so a crash afterwards loses
    none of them. After a line cut short by a kill the rows start on a new line, so only the cut
    line is lost (lenient reading skips it)."""
    text = _lines(rows).encode("utf-8")
    if not text:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        if f.seek(0, os.SEEK_END):
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                text = b"\n" + text
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(
    path: str | Path, required: Iterable[str] = (), *, strict: bool = True
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, row)`` for each non-blank line that holds a JSON object with every
    ``required`` field.

    Strict (for files a user gives us): any other line raises :class:`InputError` naming
    ``file:line`` and what is wrong. Lenient (``strict=False``, for our own logs on resume): such
    a line, typically the last one cut short by a kill, is skipped. Either way a missing file
    raises :class:`InputError`.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    required = tuple(required)
    with open(path, "rb") as f:  # bytes, so a line that is not UTF-8 is reported (or skipped) alone
        for n, raw in enumerate(f, 1):
            row, why = _parse_row(raw, required)
            if why is not None and strict:
                raise InputError(f"{path}:{n}: {why}")
            if row is not None:
                yield n, row


def _parse_row(raw: bytes, required: tuple[str, ...]) -> tuple[dict | None, str | None]:
    """``(row, None)`` for a good line, ``(None, None)`` for a blank one, ``(None, why)`` otherwise."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")  # error columns count within the line
    except UnicodeDecodeError as e:
        return None, f"not UTF-8 text ({e.reason}); save the file as UTF-8"
    if not line.strip():
        return None, None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg} at column {e.colno})"
    if not isinstance(row, dict):
        return None, f"expected a JSON object, got {type(row).__name__}"
    missing = [k for k in required if k not in row]
    if missing:
        return None, f"missing field(s) {', '.join(missing)}; each row needs {', '.join(required)}"
    return row, None
