"""The one I/O module: atomic writes, JSONL read (strict and lenient) and append, the cache dir."""

from __future__ import annotations

import os
import stat

import pytest

from leanfd.io import InputError, append_jsonl, atomic_write, cache_dir, read_jsonl, write_jsonl_atomic


def test_atomic_write_replaces_the_file_with_ordinary_permissions_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write(path, "old\n")
    atomic_write(path, lambda tmp: tmp.write_bytes(b"new\n"))
    assert path.read_text() == "new\n"
    assert os.listdir(path.parent) == ["a.txt"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_a_failed_atomic_write_keeps_the_old_file_and_removes_its_temp(tmp_path):
    path = tmp_path / "a.csv"
    atomic_write(path, "old\n")

    def half(tmp):
        tmp.write_text("half of the n")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["a.csv"]


@pytest.mark.parametrize(
    "line,error",
    [
        ('{"id": 1', r"f\.jsonl:3: not valid JSON \(Expecting ',' delimiter at column 9\)"),
        ("[1, 2]", r"f\.jsonl:3: expected a JSON object, got list"),
        ('{"x": 1}', r"f\.jsonl:3: missing field\(s\) id; each row needs id"),
        (b'{"id": "\xff"}', r"f\.jsonl:3: not UTF-8 text"),
    ],
)
def test_strict_read_names_file_and_line_and_lenient_read_skips_the_line(tmp_path, line, error):
    path = tmp_path / "f.jsonl"
    bad = line if isinstance(line, bytes) else line.encode()
    path.write_bytes(b'{"id": "a", "t": "\xc3\xa9"}\n\n' + bad + b'\n{"id": "b"}\n')
    with pytest.raises(InputError, match=error):
        list(read_jsonl(path, required=("id",)))
    assert list(read_jsonl(path, required=("id",), strict=False)) == [
        (1, {"id": "a", "t": "é"}),
        (4, {"id": "b"}),
    ]


def test_reading_a_missing_file_says_so(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jsonl: no such file"):
        next(read_jsonl(tmp_path / "nope.jsonl", strict=False))


def test_append_starts_a_new_line_after_a_cut_one_and_round_trips_with_write(tmp_path):
    path = tmp_path / "log.jsonl"
    rows = [{"step": 1, "text": "∀ n, n ≤ n"}, {"step": 2, "x": None}]
    write_jsonl_atomic(path, rows[:1])
    with open(path, "a") as f:
        f.write('{"step": 2, "comp')  # a write cut short by a kill
    append_jsonl(path, [])  # nothing to add writes nothing
    append_jsonl(path, rows[1:])
    assert "∀ n" in path.read_text()  # UTF-8 as is, not \u escapes
    assert [n for n, _ in read_jsonl(path, strict=False)] == [1, 3]  # line 2 is the cut one
    assert [r for _, r in read_jsonl(path, strict=False)] == rows


def test_cache_dir_follows_leanfd_cache_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFD_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LEANFD_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "leanfd"
