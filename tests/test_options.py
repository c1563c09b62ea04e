"""One name per option across commands: old spellings (CLI flag, YAML key, keyword) still work for
one release, give the same config as the new names, and warn; the eval CLI is generated from
EvalConfig."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leanfd.cli import app
from leanfd.eval.config import EvalConfig
from leanfd.train.config import ALIASES, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
#: a value for each renamed TrainConfig option, spelled the new way
NEW = {
    "backend": "embedded",
    "timeout_s": 7.5,
    "heartbeats": 1000,
    "workers": 3,
    "sampler": "vllm",
    "batch_size": 5,
    "prompt": "plain",
}
OLD = {old: NEW[new] for old, new in ALIASES.items()}


def test_alias_table_covers_the_renamed_options():
    assert set(ALIASES.values()) == set(NEW)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(NEW) <= fields and not set(ALIASES) & fields


def test_old_keyword_names_give_the_same_config_and_warn(capsys):
    with pytest.warns(DeprecationWarning, match="lean_backend is deprecated.*use backend"):
        old = TrainConfig(**OLD)
    assert old == TrainConfig(**NEW)
    err = capsys.readouterr().err
    for o, n in ALIASES.items():
        assert f"{o} is deprecated and will be removed; use {n}" in err
    with pytest.warns(DeprecationWarning):
        assert TrainConfig.from_yaml(None, lean_backend="native").backend == "native"


def test_old_yaml_keys_give_the_same_config_and_warn(tmp_path, capsys):
    old = tmp_path / "old.yaml"
    old.write_text(
        "".join(f"{k.replace('_', '-') if k == 'lean_backend' else k}: {v}\n" for k, v in OLD.items())
    )
    new = tmp_path / "new.yaml"
    new.write_text("".join(f"{k}: {v}\n" for k, v in NEW.items()))
    with pytest.warns(DeprecationWarning, match=r"old\.yaml: rollout_backend is deprecated.*use sampler"):
        cfg = TrainConfig.from_yaml(old)
    assert cfg == TrainConfig.from_yaml(new)
    assert "old.yaml: verify_workers is deprecated" in capsys.readouterr().err


def test_an_option_given_under_both_names_with_different_values_is_refused():
    with pytest.raises(ValueError, match="same option; give only backend"):
        TrainConfig(backend="native", lean_backend="embedded")


def test_the_cpu_experiment_configs_still_load():
    """experiments/cpu_smollm2/config.yaml runs as before; the recorded configs of its results
    (written with the old names) load to the same options, with a warning."""
    shared = TrainConfig.from_yaml(ROOT / "experiments/cpu_smollm2/config.yaml")
    assert (shared.few_shot, shared.micro_batch_size, shared.eval_ks) == (3, 2, [1, 2, 4])
    recorded = ROOT / "experiments/cpu_smollm2/results/fd/config.yaml"
    with pytest.warns(DeprecationWarning, match="prompt_style is deprecated"):
        cfg = TrainConfig.from_yaml(recorded)
    assert (cfg.backend, cfg.sampler, cfg.batch_size, cfg.prompt) == ("auto", "transformers", 16, "chat")
    assert "lean_backend" not in cfg.to_yaml()


def _train_config(monkeypatch, args):
    seen = {}

    def fake_train(cfg):
        seen["cfg"] = cfg

    monkeypatch.setattr("leanfd.train.trainer.train", fake_train)
    res = CliRunner().invoke(app, ["train", *args])
    assert res.exit_code == 0, res.output
    return seen["cfg"], res.output


def _flags(values):
    return [a for k, v in values.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def test_old_train_flags_give_the_same_config_and_warn(monkeypatch):
    new, _ = _train_config(monkeypatch, _flags(NEW))
    with pytest.warns(DeprecationWarning, match="--lean-backend is deprecated.*use --backend"):
        old, output = _train_config(monkeypatch, _flags(OLD))
    assert old == new
    assert "--rollout-backend is deprecated and will be removed; use --sampler" in output
    assert "--lean-backend" not in CliRunner().invoke(app, ["train", "--help"]).output


@pytest.mark.parametrize(
    "command,old,new,kwarg",
    [
        ("critique", ["--timeout", "9"], ["--timeout-s", "9"], ("timeout_s", 9.0)),
        ("critique", ["--critic-backend", "vllm"], ["--critic-sampler", "vllm"], ("critic_backend", "vllm")),
        ("mcp", ["--timeout", "9"], ["--timeout-s", "9"], ("timeout_s", 9.0)),
    ],
)
def test_old_flags_of_hand_written_commands(monkeypatch, tmp_path, command, old, new, kwarg):
    seen = []
    if command == "critique":
        monkeypatch.setattr("leanfd.critic.batch.run_critique", lambda *a, **kw: seen.append(kw))
        base = ["critique", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl")]
    else:
        pytest.importorskip("mcp")
        monkeypatch.setattr("leanfd.env.mcp_server.serve_mcp", lambda **kw: seen.append(kw))
        base = ["mcp"]
    res_new = CliRunner().invoke(app, base + new)
    with pytest.warns(DeprecationWarning, match=f"{old[0]} is deprecated.*use {new[0]}"):
        res_old = CliRunner().invoke(app, base + old)
    assert res_new.exit_code == res_old.exit_code == 0, res_new.output + res_old.output
    assert seen[0] == seen[1] and seen[0][kwarg[0]] == kwarg[1]
    assert f"use {new[0]}" in res_old.output
    help_text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "300"}).output
    assert not re.search(f"{old[0]}\\b(?!-)", help_text), f"{old[0]} is not hidden"


def _flag_of(f):
    return f.metadata.get("flags", (f"--{f.name.replace('_', '-')}",))[0]


def test_eval_help_lists_every_config_field():
    res = CliRunner().invoke(app, ["eval", "--help"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    for f in dataclasses.fields(EvalConfig):
        assert f.metadata.get("help"), f"EvalConfig.{f.name} has no help text"
        assert _flag_of(f) in res.output, f.name
        assert f.metadata["help"].split()[0] in res.output, f.name


def test_eval_flags_build_the_config(monkeypatch, tmp_path):
    seen = []

    def fake_evaluate(cfg):
        seen.append(cfg)
        raise RuntimeError("stop here: this test checks the options only")

    monkeypatch.setattr("leanfd.eval.evaluate.evaluate", fake_evaluate)
    args = ["eval", "-o", str(tmp_path), "-n", "2", "-k", "1,2", "--sampler", "transformers"]
    args += [
        "--backend",
        "embedded",
        "--timeout-s",
        "5",
        "--heartbeats",
        "0",
        "--no-prefill",
        "--prompt",
        "plain",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "stop here" in res.output
    assert seen == [
        EvalConfig(
            out=tmp_path,
            n=2,
            ks=(1, 2),
            backend="embedded",
            timeout_s=5.0,
            heartbeats=0,
            prefill=False,
            prompt="plain",
        )  # fmt: skip
    ]
    res = CliRunner().invoke(app, ["eval", "-o", str(tmp_path), "-n", "2", "-k", "1,x"])
    assert res.exit_code == 2 and "comma-separated integers" in res.output
