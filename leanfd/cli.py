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


def _old_flags(aliases: dict[str, str]):
    """Accept a hand-written command's old flags (``aliases``: old -> new parameter name) for one
    release: hidden from ``--help``, renamed to the new one with a deprecation warning."""
    import functools
    import inspect
    import typing

    from leanfd.options import renamed

    def deco(fn):
        sig = inspect.signature(fn, eval_str=True)
        params = list(sig.parameters.values())
        for old, new in aliases.items():
            base = typing.get_args(sig.parameters[new].annotation)[0]
            option = typer.Option(hidden=True, help=f"Deprecated: use --{new.replace('_', '-')}.")
            hint = Annotated[base | None, option]
            params.append(
                inspect.Parameter(old, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
            )

        @functools.wraps(fn)
        def wrapper(**kw):
            for old, new in aliases.items():
                if kw.get(old) is not None and kw[new] == sig.parameters[new].default:
                    kw[new] = None  # the new flag was (most likely) not given: the old one's value stands
            return fn(**renamed(kw, aliases, flags=True))

        wrapper.__signature__ = sig.replace(parameters=params)
        del wrapper.__wrapped__  # typer must read the signature above, not fn's
        return wrapper

    return deco


@app.command()
def setup(
    native: Annotated[
        bool, typer.Option(help="Also set up the native Lean + Mathlib project (needs internet).")
    ] = False,
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


def _verify_and_write(rows: list[dict], attempts: list, out: Path | None, verify_options: dict) -> None:
    """Verify ``attempts``, write one ``{id, **verdict}`` row each (``rows`` give the ids) and print
    the status counts. Shared by ``verify`` and ``verify-files``."""
    import json
    from collections import Counter

    from leanfd.io import write_jsonl_atomic

    backend, workers = verify_options.pop("backend"), verify_options.pop("workers")
    no_daemon = verify_options.pop("no_daemon", False)
    try:
        verifier = _lean_verifier(backend, workers, [a.problem.header for a in attempts], no_daemon)
        verdicts = verifier.verify(attempts, progress=True, **verify_options)
    except (ValueError, RuntimeError) as e:  # VerifyInputError, a bad backend, DaemonError
        _fail(str(e))
    results = [{"id": r["id"], **v.to_dict()} for r, v in zip(rows, verdicts, strict=True)]
    if out is None:
        for r in results:
            typer.echo(json.dumps(r, ensure_ascii=False))
    else:
        write_jsonl_atomic(out, results)
    counts = Counter(v.status for v in verdicts)
    typer.echo(
        f"{len(verdicts)} attempts: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()), err=True
    )


@app.command()
@_old_flags({"timeout": "timeout_s"})
def verify(
    infile: Annotated[
        Path,
        typer.Argument(help="JSONL rows: {id, statement, proof | file, header?} (file: a whole Lean file)."),
    ],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Output JSONL (default: stdout).")] = None,
    backend: Annotated[
        str, typer.Option(help="auto | embedded | native | http (LEANFD_VERIFY_URLS)")
    ] = "auto",
    timeout_s: Annotated[float, typer.Option(help="Wall-clock seconds per attempt.")] = 30.0,
    heartbeats: Annotated[int, typer.Option(help="Lean maxHeartbeats per attempt.")] = 200_000,
    workers: Annotated[int | None, typer.Option(help="Lean sessions in parallel (default: cores).")] = None,
    policy: Annotated[
        str, typer.Option(help="What proved means: strict, or published (native_decide, own heartbeats).")
    ] = "strict",
    no_daemon: Annotated[
        bool, typer.Option("--no-daemon", help="Start Lean in this process, not in the warm daemon.")
    ] = False,
) -> None:
    """Verify proof attempts with Lean; one verdict row per input row, in input order."""
    from leanfd.data.problem import Attempt, Problem
    from leanfd.io import InputError, read_jsonl
    from leanfd.lean import VerifyInputError
    from leanfd.lean.verify import wrap

    try:
        rows = list(read_jsonl(infile, required=("id", "statement")))
        attempts = []
        for n, r in rows:
            if ("proof" in r) == ("file" in r):
                raise InputError(f"{infile}:{n}: give exactly one of 'proof' or 'file'")
            problem = Problem(str(r["id"]), r["statement"], r.get("header") or "")
            a = Attempt(problem, file=r["file"]) if "file" in r else Attempt(problem, r["proof"])
            try:
                wrap(a, heartbeats)  # validate the statement before any Lean starts
            except VerifyInputError as e:
                raise InputError(f"{infile}:{n}: {e}") from None
            attempts.append(a)
    except (InputError, ValueError) as e:
        _fail(str(e))
    options = {"backend": backend, "workers": workers, "timeout_s": timeout_s, "heartbeats": heartbeats}
    _verify_and_write(
        [r for _, r in rows], attempts, out, options | {"no_daemon": no_daemon, "policy": policy}
    )


@app.command("verify-files")
@_old_flags({"timeout": "timeout_s"})
def verify_files(
    directory: Annotated[
        Path, typer.Argument(help="A directory of .lean files, one theorem each, named after its problem.")
    ],
    suite: Annotated[
        str, typer.Option(help="The suite the problems come from: core, minif2f or a JSONL path.")
    ],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Output JSONL (default: stdout).")] = None,
    backend: Annotated[
        str, typer.Option(help="auto | embedded | native | http (LEANFD_VERIFY_URLS)")
    ] = "auto",
    timeout_s: Annotated[float, typer.Option(help="Wall-clock seconds per file.")] = 30.0,
    heartbeats: Annotated[int, typer.Option(help="Lean maxHeartbeats per command.")] = 200_000,
    workers: Annotated[int | None, typer.Option(help="Lean sessions in parallel (default: cores).")] = None,
    policy: Annotated[
        str, typer.Option(help="What proved means: strict, or published (native_decide, own heartbeats).")
    ] = "strict",
    no_daemon: Annotated[
        bool, typer.Option("--no-daemon", help="Start Lean in this process, not in the warm daemon.")
    ] = False,
) -> None:
    """Verify a prover's whole files against a suite: DIR/NAME.lean must prove the suite's problem
    NAME, stated exactly as the suite states it. One verdict row per file (id = NAME), sorted by name."""
    from leanfd.data import load_suite
    from leanfd.data.problem import Attempt

    if not directory.is_dir():
        _fail(f"{directory}: not a directory")
    paths = sorted(directory.glob("*.lean"))
    if not paths:
        _fail(f"{directory}: no .lean files")
    try:
        problems = {p.name: p for p in load_suite(suite)}
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    unknown = [f.name for f in paths if f.stem not in problems]
    if unknown:
        _fail(
            f"{len(unknown)} file(s) name no problem of suite {suite!r}: {', '.join(unknown[:10])}"
            + (" …" if len(unknown) > 10 else "")
            + "; name each file after its problem (e.g. mathd_algebra_10.lean)"
        )
    try:
        attempts = [Attempt(problems[f.stem], file=f.read_text(encoding="utf-8")) for f in paths]
    except UnicodeDecodeError as e:
        _fail(f"{directory}: a file is not UTF-8 text ({e})")
    options = {"backend": backend, "workers": workers, "timeout_s": timeout_s, "heartbeats": heartbeats}
    _verify_and_write(
        [{"id": f.stem} for f in paths], attempts, out, options | {"no_daemon": no_daemon, "policy": policy}
    )


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="A .lean file (core Lean for the embedded backend).")],
    backend: Annotated[str, typer.Option(help="auto | embedded | native")] = "auto",
    no_daemon: Annotated[
        bool, typer.Option("--no-daemon", help="Start Lean in this process, not in the warm daemon.")
    ] = False,
) -> None:
    """Print a whole Lean file's diagnostics (your own file: no guard); exit 1 if it has errors."""
    from leanfd.lean import backends, daemon
    from leanfd.lean.check import check_file, leading_imports

    if not file.is_file():
        _fail(f"{file}: no such file")
    try:
        if daemon.disabled(no_daemon) or not backends.get(backend).local:
            msgs = check_file(file, backend=backend)
        else:
            text = file.read_text(encoding="utf-8")
            client = daemon.ensure(backend, None, [leading_imports(text)[0]], echo=_note)
            msgs = client.check(text)
    except (ValueError, RuntimeError) as e:  # imports the backend lacks, DaemonError
        _fail(str(e))
    for m in msgs:
        typer.echo(f"{file}:{m.line}:{m.col}: {m.severity}: {m.text}")
    n_err = sum(m.severity == "error" for m in msgs)
    typer.echo(f"{len(msgs)} messages, {n_err} errors", err=True)
    raise typer.Exit(1 if n_err else 0)


@app.command()
@_old_flags({"timeout": "timeout_s", "critic_backend": "critic_sampler"})
def critique(
    infile: Annotated[
        Path, typer.Argument(help="JSONL rows: {id, statement, proof, header?, reference_proof?, verdict?}.")
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output JSONL, one critique row per input row.")],
    critic: Annotated[
        str, typer.Option(help="rule (from Lean's messages) | lm (a frozen model corrects the proof)")
    ] = "rule",
    critic_model: Annotated[
        str | None,
        typer.Option(
            help="lm: model alias/path/hub id (transformers or vllm), or the model name at --critic-url."
        ),
    ] = None,
    critic_url: Annotated[
        str | None, typer.Option(help="lm: an OpenAI-compatible server (http://host:port or its /v1 URL).")
    ] = None,
    critic_sampler: Annotated[
        str, typer.Option(help="lm with --critic-model, its generation engine: transformers | vllm")
    ] = "transformers",
    max_new_tokens: Annotated[int, typer.Option(help="lm: answer length limit.")] = 384,
    verify_fix: Annotated[
        bool, typer.Option(help="lm: check each corrected proof with Lean (fix_verified).")
    ] = False,
    goals: Annotated[
        bool, typer.Option(help="Also ask Lean for the goals of failed rows that came with a verdict.")
    ] = False,
    backend: Annotated[
        str, typer.Option(help="auto | embedded | native | http (LEANFD_VERIFY_URLS)")
    ] = "auto",
    timeout_s: Annotated[float, typer.Option(help="Wall-clock seconds per attempt.")] = 30.0,
    heartbeats: Annotated[int, typer.Option(help="Lean maxHeartbeats per attempt.")] = 200_000,
    workers: Annotated[int | None, typer.Option(help="Lean sessions in parallel (default: cores).")] = None,
    no_daemon: Annotated[
        bool, typer.Option("--no-daemon", help="Start Lean in this process, not in the warm daemon.")
    ] = False,
) -> None:
    """Step-aligned critique of proof attempts, with every feedback condition rendered."""
    from leanfd.critic.batch import run_critique

    try:
        run_critique(
            infile, out, critic=critic, critic_model=critic_model, critic_url=critic_url,
            critic_backend=critic_sampler, max_new_tokens=max_new_tokens, verify_fix=verify_fix, goals=goals,
            backend=backend, timeout_s=timeout_s, heartbeats=heartbeats, workers=workers,
            use_daemon=not no_daemon, echo=_note,
        )  # fmt: skip
    except (ValueError, RuntimeError) as e:  # InputError, CritiqueInputError, VerifyInputError, DaemonError
        _fail(str(e))


def _note(line: str) -> None:
    typer.echo(line, err=True)


def _lean_verifier(backend: str, workers: int | None, headers: list[str], no_daemon: bool):
    """The warm daemon (started on first use) unless turned off; else this process's verifier."""
    from leanfd.lean.daemon import verifier_for
    from leanfd.lean.verify import split_header

    imports = sorted({split_header(h)[0] for h in headers})
    return verifier_for(backend, workers, imports, no_daemon=no_daemon, echo=_note)


daemon_app = typer.Typer(
    no_args_is_help=True,
    help="The warm Lean daemon: verify, check and critique start it on first use and reuse it.",
)
app.add_typer(daemon_app, name="daemon")


@daemon_app.command("start")
def daemon_start(
    backend: Annotated[str, typer.Option(help="auto | embedded | native")] = "auto",
    workers: Annotated[int | None, typer.Option(help="Lean sessions (default: cores).")] = None,
    warm_imports: Annotated[str, typer.Option(help="Imports to keep warm, e.g. Mathlib,Aesop.")] = "Init",
    idle_timeout: Annotated[float, typer.Option(help="Exit after this many idle seconds.")] = 600.0,
) -> None:
    """Start the daemon (or reuse the one running with these settings)."""
    from leanfd.lean import daemon

    imports = [tuple(m.strip() for m in warm_imports.split(",") if m.strip())]
    try:
        c = daemon.ensure(backend, workers, imports, idle_timeout_s=idle_timeout, echo=_note)
    except (ValueError, RuntimeError) as e:
        _fail(str(e))
    typer.echo(f"daemon up: pid {c.pid}, backend {c.backend}, {c.workers} worker(s)")


@daemon_app.command("stop")
def daemon_stop() -> None:
    """Stop the daemon and its Lean sessions."""
    from leanfd.lean import daemon

    try:
        pid = daemon.stop()
    except RuntimeError as e:
        _fail(str(e))
    typer.echo(f"stopped the daemon (pid {pid})" if pid else "no daemon was running")


@daemon_app.command("status")
def daemon_status() -> None:
    """Say whether a daemon runs, with its settings and memory; exit 1 if none."""
    from leanfd.lean import daemon

    try:
        st = daemon.status()
    except RuntimeError as e:
        _fail(str(e))
    if st is None:
        typer.echo("no daemon running")
        raise typer.Exit(1)
    key = st.get("key", {})
    typer.echo(
        f"daemon pid {st['pid']}: leanfd {key.get('version')}, backend {st.get('backend')}, "
        f"{st.get('workers')} worker(s), imports {key.get('imports')}, {st['memory_mb'] / 1024:.1f} GB, "
        f"exits after {st.get('idle_timeout_s', 0) / 60:g} min idle"
    )


@daemon_app.command("run", hidden=True)
def daemon_run(
    backend: Annotated[str, typer.Option()],
    workers: Annotated[int, typer.Option()],
    warm_imports: Annotated[str, typer.Option(help="';'-separated import sets, ','-separated modules.")],
    idle_timeout: Annotated[float, typer.Option()],
    timeout: Annotated[float, typer.Option()] = 30.0,
    heartbeats: Annotated[int, typer.Option()] = 200_000,
) -> None:
    """Run the daemon in the foreground (what `daemon start` launches in the background)."""
    from leanfd.lean.daemon import daemon_key
    from leanfd.serve.daemon import run_daemon

    imports = [tuple(s.split(",")) for s in warm_imports.split(";") if s]
    key = daemon_key(backend, workers, imports)
    run_daemon(key=key, idle_timeout_s=idle_timeout, timeout_s=timeout, heartbeats=heartbeats)


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


@app.command()
@_old_flags({"timeout": "timeout_s"})
def mcp(
    http: Annotated[
        int | None, typer.Option(help="Serve streamable HTTP on 127.0.0.1:PORT instead of stdio.")
    ] = None,
    backend: Annotated[str, typer.Option(help="Verifier backend: embedded or native.")] = "embedded",
    workers: Annotated[int, typer.Option(help="Warm Lean sessions per header.")] = 1,
    timeout_s: Annotated[float, typer.Option(help="Wall-clock limit of a call's Lean work, s.")] = 60.0,
    heartbeats: Annotated[int, typer.Option(help="Lean maxHeartbeats per attempt.")] = 200_000,
) -> None:
    """Serve the agent tools (check, goals, search, read, verify, Kimina aliases) over MCP."""
    try:
        from leanfd.env.mcp_server import serve_mcp
    except ImportError as e:
        _fail(f"{e}. The MCP server needs the mcp extra: pip install 'leanfd[mcp]'")
    from leanfd.lean import backends

    if backend not in backends.local_names():
        _fail(f"unknown backend {backend!r}; use {' or '.join(backends.local_names())}")
    serve_mcp(backend=backend, workers=workers, timeout_s=timeout_s, heartbeats=heartbeats, http_port=http)


def _eval(**options) -> None:
    """Sample n proofs per problem, verify them with Lean, write samples.jsonl, summary.csv, passk.png."""
    from leanfd.eval.evaluate import EvalConfig, evaluate
    from leanfd.options import renamed

    given = {k: v for k, v in renamed(options, EvalConfig.ALIASES, flags=True).items() if v is not None}
    out = given["out"]
    try:
        cfg = EvalConfig(**given)
        result = evaluate(cfg)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as e:
        _fail(str(e))
    df = result.summary
    cols = ["k", "pass@k", "solved", "problems", "avg@n", "entropy_per_token", "entropy_per_sequence"]
    typer.echo(df[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    t = df.iloc[0]
    typer.echo(
        f"time: sample {t['sample_s']:.1f}s ({t['tokens_per_s']:.1f} tok/s), extract {t['extract_s']:.2f}s, "
        f"verify {t['verify_s']:.1f}s, wall {t['wall_s']:.1f}s"
        + (
            f", waiting for Lean to start {result.timings['verifier_wait_s']:.1f}s"
            if result.timings.get("verifier_wait_s", 0) >= 0.1
            else ""
        )
        + (
            f" (resumed: {result.skipped} {'episodes' if cfg.episodes else 'problems'} already done)"
            if result.skipped
            else ""
        )
    )
    if cfg.episodes:
        turns = [c for c in df.columns if c.startswith("pass@k_turn")]
        typer.echo(df[["k", *turns]].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        typer.echo(
            f"per episode: {t['turns_per_episode']:.2f} turns, {t['tool_calls_per_episode']:.2f} tool calls, "
            f"{t['policy_tokens_per_episode']:.0f} policy + {t['env_tokens_per_episode']:.0f} environment tokens"
        )
        lt = result.timings
        if "lockstep_sample_s" in lt:  # this run played episodes (a finished run resumed plays none)
            typer.echo(
                f"episode time: prefill {lt['lockstep_prefill_s']:.1f}s, decode {lt['lockstep_decode_s']:.1f}s, "
                f"environment (tools and Lean) {lt['lockstep_env_s']:.2f}s = "
                f"{100 * lt['lockstep_env_s'] / max(1e-9, lt['wall_s']):.1f}% of the wall "
                f"({lt['lockstep_rounds']} rounds)"
            )
    typer.echo(
        f"wrote {out / 'samples.jsonl'}, {out / 'summary.csv'}, {out / 'passk.png'}"
        + (f", {out / 'turns.png'}" if cfg.episodes else "")
    )


@app.command()
def plot(
    runs: Annotated[list[Path], typer.Argument(help="Run directories written by `leanfd eval`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("passk.png"),
) -> None:
    """Overlay the pass@k curves of several eval runs (labels: run directory names, or their paths
    when names repeat, e.g. fd/after and grpo/after for a trainer's eval runs)."""
    from leanfd.eval.plots import plot_passk, run_labels
    from leanfd.eval.results import read_summary

    try:
        tables = {label: read_summary(r) for label, r in zip(run_labels(runs), runs, strict=True)}
        plot_passk(tables, output)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"wrote {output}")


@app.command()
def compare(
    run_a: Annotated[str, typer.Argument(help="Run A's eval directory, or one per seed joined by ','.")],
    run_b: Annotated[str, typer.Argument(help="Run B's eval directory, or one per seed joined by ','.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV file to write.")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """pass@k(B) - pass@k(A) per k with a 95 % bootstrap CI, paired over problems (both runs must
    hold the same problems and n); with several runs per side (training seeds), seeds and problems are
    both resampled (one problem draw for every run). Example: leanfd compare fd/s0,fd/s1 grpo/s0,grpo/s1 -o d.csv"""
    from leanfd.eval.compare import compare_runs, difference_table

    split = [[Path(p) for p in s.split(",") if p] for s in (run_a, run_b)]
    try:
        table = difference_table(compare_runs(*split, b=resamples, seed=seed))
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"B - A, 95 % CI by bootstrap over {table['resampled'].iloc[0]}, {resamples} resamples")
    typer.echo(table.drop(columns="resampled").to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if output is not None:
        table.to_csv(output, index=False)
        typer.echo(f"wrote {output}")


@app.command("plot-train")
def plot_train(
    runs: Annotated[list[Path], typer.Argument(help="Output directories written by `leanfd train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("training.png"),
) -> None:
    """Plot reward, policy entropy, loss and KL(student||teacher) per step for training runs."""
    from leanfd.eval.plots import run_labels
    from leanfd.train.plots import plot_training, read_metrics

    try:
        tables = {label: read_metrics(r) for label, r in zip(run_labels(runs), runs, strict=True)}
        plot_training(tables, output)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"wrote {output}")


@app.command("analyze-feedback")
def analyze_feedback(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="'controlled' (corrupted core reference proofs) and/or eval/train output dirs or JSONL."
        ),
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory.")],
    model: Annotated[
        str, typer.Option(help="Policy: alias, checkpoint dir, .gguf or hub id.")
    ] = "smollm2-135m",
    conditions: Annotated[
        str, typer.Option(help="Comma-separated feedback conditions (leanfd.critic.conditions).")
    ] = "binary,errors,reference,critique,critique+reference",
    limit: Annotated[int, typer.Option(help="Failed attempts analysed per eval/train input.")] = 20,
    controlled_limit: Annotated[int, typer.Option(help="Corrupted proofs kept in the controlled set.")] = 30,
    suite: Annotated[
        str, typer.Option(help="Suite of the problems (an eval run's config.json wins).")
    ] = "core",
    split: Annotated[str | None, typer.Option(help="Controlled set: only this split (default: all).")] = None,
    prompt: Annotated[str, typer.Option(help="Prompt style: chat | plain.")] = "chat",
    few_shot: Annotated[
        int | None, typer.Option(help="Few-shot examples in the prompts (default: the eval run's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the controlled set's corruptions.")] = 0,
    temperature: Annotated[float, typer.Option(help="Temperature of p_S and p_T.")] = 1.0,
    backend: Annotated[str, typer.Option(help="Lean backend: embedded | native | http.")] = "embedded",
    workers: Annotated[int, typer.Option(help="Lean sessions.")] = 1,
    timeout_s: Annotated[float, typer.Option(help="Wall-clock seconds per attempt.")] = 30.0,
    figure_attempts: Annotated[int, typer.Option(help="Attempts drawn token by token.")] = 3,
) -> None:
    """Per-token gap log p_teacher - log p_student of failed attempts under each feedback condition,
    split into the correct prefix, the failing step and after it (leanfd.train.feedback_alignment)."""
    from leanfd.train.feedback_alignment import analyze_feedback as run

    try:
        summary = run(
            inputs, out, model=model, conditions=[c for c in conditions.split(",") if c], limit=limit,
            controlled_limit=controlled_limit, suite=suite, split=split, prompt=prompt, few_shot=few_shot,
            seed=seed, temperature=temperature, backend=backend, workers=workers, timeout_s=timeout_s,
            figure_attempts=figure_attempts,
        )  # fmt: skip
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    cols = ["set", "condition", "attempts", "abs_gap_prefix", "abs_gap_failing", "abs_gap_after"]
    cols += ["share_failing", "token_share_failing", "kl_per_token"]
    typer.echo(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    typer.echo(f"wrote {out}/summary.csv, summary.json, attempts.csv, token_gaps.png, shares.png")


def _train(**options) -> None:
    """Train a prover with Feedback Distillation (fd), GRPO (grpo), or FD then GRPO (fd-grpo).

    Example: leanfd train --method fd --suite core --model smollm2-135m --steps 20 --out runs/fd
    """
    from leanfd.options import renamed
    from leanfd.train.config import TrainConfig
    from leanfd.train.trainer import train

    config = options.pop("config")
    options = renamed(options, TrainConfig.ALIASES, flags=True)
    try:
        cfg = TrainConfig.from_yaml(config, **options)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    train(cfg)
    typer.echo(f"wrote {cfg.out}/metrics.csv, {cfg.out}/checkpoints/, {cfg.out}/eval/")


def _register_generated() -> None:
    # eval's and train's options are generated from EvalConfig's and TrainConfig's fields, so --help
    # and the dataclasses never disagree.
    from leanfd.eval.config import EvalConfig
    from leanfd.options import cli_signature
    from leanfd.train.config import cli_signature as train_signature

    _eval.__signature__ = cli_signature(EvalConfig)
    app.command("eval")(_eval)
    _train.__signature__ = train_signature()
    app.command("train")(_train)


_register_generated()


if __name__ == "__main__":
    app()
