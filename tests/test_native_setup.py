"""`leanfd setup --native` with the real subprocess path and fake elan/lake scripts on PATH (the
real download needs GitHub, which these machines cannot reach)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from leanfd.lean.native import NativeSetupError, project_dir, setup_native

REPO_PROJECT = Path(__file__).resolve().parents[1] / "lean_project"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "lean_project"
    shutil.copytree(REPO_PROJECT, dst)
    return dst


def _script(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    p = bin_dir / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IXUSR)


def test_repo_project_pins_lean_and_mathlib():
    assert (REPO_PROJECT / "lean-toolchain").read_text().strip() == "leanprover/lean4:v4.28.0"
    lakefile = (REPO_PROJECT / "lakefile.toml").read_text()
    assert 'rev = "v4.28.0"' in lakefile and "mathlib4" in lakefile
    assert project_dir() == REPO_PROJECT.resolve()


def test_no_elan_no_lake_says_how_to_install(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(NativeSetupError, match="elan-init.sh"):
        setup_native(project)


def test_offline_lake_is_reported_as_network_problem(project, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    _script(bin_dir, "elan", "exit 0\n")
    _script(
        bin_dir,
        "lake",
        "echo \"error: fatal: unable to access 'https://github.com/leanprover-community/mathlib4/': "
        'Could not resolve host: github.com" >&2\nexit 1\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with pytest.raises(NativeSetupError, match="network is unreachable") as e:
        setup_native(project)
    assert "Could not resolve host" in str(e.value)  # the tool's own words are kept


def test_other_failure_keeps_exit_code_and_output(project, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    _script(bin_dir, "elan", "echo 'error: toolchain is not valid' >&2\nexit 3\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with pytest.raises(NativeSetupError, match="exited 3") as e:
        setup_native(project)
    assert "toolchain is not valid" in str(e.value)
    assert "network" not in str(e.value)


def test_steps_run_in_order_and_manifest_skips_update(project, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    _script(bin_dir, "elan", f'echo "elan $*" >> {log}\n')
    _script(bin_dir, "lake", f'echo "lake $* @ $(basename "$PWD")" >> {log}\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert setup_native(project) == project.resolve()
    assert log.read_text().splitlines() == [
        "elan toolchain install leanprover/lean4:v4.28.0",
        "lake update @ lean_project",
        "lake exe cache get @ lean_project",
        "lake build @ lean_project",
    ]
    log.unlink()
    (project / "lake-manifest.json").write_text("{}")
    setup_native(project, build=False)
    assert log.read_text().splitlines() == [
        "elan toolchain install leanprover/lean4:v4.28.0",
        "lake exe cache get @ lean_project",
    ]


def test_env_override_must_be_a_lake_project(monkeypatch, tmp_path):
    monkeypatch.setenv("LEANFD_LEAN_PROJECT", str(tmp_path))
    with pytest.raises(NativeSetupError, match="not a Lake project"):
        project_dir()
