"""TrainConfig: YAML loading, CLI overrides, and the impossible combinations it refuses."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from leanfd.train.config import TrainConfig


def test_yaml_then_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("method: grpo\ngroup-size: 8\nlr: 3.0e-5\neval_ks: [1, 2]\n")
    cfg = TrainConfig.from_yaml(f, lr=1e-3, steps=None)
    assert (cfg.method, cfg.group_size, cfg.lr, cfg.eval_ks, cfg.steps) == ("grpo", 8, 1e-3, [1, 2], 20)
    assert TrainConfig.from_yaml(None, eval_ks="1,4").eval_ks == [1, 4]
    back = TrainConfig.from_yaml(_write(tmp_path / "back.yaml", cfg.to_yaml()))
    assert back == cfg


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"methd": "fd"}, "did you mean method"),
        ({"method": "ppo"}, "choose one of fd, grpo, fd-grpo"),
        ({"fd_estimator": "sampled", "divergence": "forward_kl"}, "only estimates the reverse KL"),
        ({"method": "grpo", "group_size": 1}, "group_size >= 2"),
        ({"method": "fd", "fd_steps": 3}, "only for method fd-grpo"),
        ({"method": "fd-grpo", "steps": 4, "fd_steps": 4}, "between 1 and steps-1"),
        ({"eval_n": 4, "eval_ks": [8]}, "raise --eval-n"),
        ({"jsd_alpha": 1.5}, "in [0, 1]"),
        ({"temperature": 0.0}, "no greedy"),
        ({"beta": 0.1, "lora": False}, "reference model"),
        ({"verify_policy": "lenient"}, "use one of strict, published"),
    ],
)
def test_impossible_combinations_say_how_to_fix(kw, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        TrainConfig.from_yaml(None, **kw)


def test_fd_grpo_splits_steps_in_half_by_default():
    assert TrainConfig(method="fd-grpo", steps=10).fd_steps == 5


def test_eval_ks_default_to_the_powers_of_two_up_to_eval_n():
    # so `--eval-n 1` alone is a valid run; given ks are kept and checked
    assert TrainConfig().eval_ks == [1, 2, 4, 8] and TrainConfig(eval_n=1).eval_ks == [1]
    assert TrainConfig(eval_n=3).eval_ks == [1, 2] and TrainConfig(eval_ks="1,3", eval_n=3).eval_ks == [1, 3]
    with pytest.raises(ValueError, match="eval_ks"):
        TrainConfig(eval_ks="4", eval_n=2)


def test_cli_help_lists_every_option():
    from leanfd.cli import app

    res = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    for f in dataclasses.fields(TrainConfig):
        for flag in f.metadata.get("flags", (f"--{f.name.replace('_', '-')}",)):
            assert flag in res.output, f.name
        assert f.metadata.get("help"), f"{f.name} has no help text"


def test_cli_rejects_bad_config_with_message(tmp_path):
    from leanfd.cli import app

    res = CliRunner().invoke(
        app, ["train", "--method", "fd", "--divergence", "jsd", "--fd-estimator", "sampled"]
    )
    assert res.exit_code == 2
    assert "reverse KL" in res.output
