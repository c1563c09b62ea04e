"""A training run's logs: resume trimming of metrics.csv and rollouts.jsonl, and step metrics
reduced over DDP ranks (two real gloo processes on CPU)."""

from __future__ import annotations

import csv
import json
import math
import os
import socket

import pytest

from leanfd.train.runlog import METRIC_COLUMNS, RunLog, reduce_over_ranks


def _row(step: int, **kw) -> dict:
    return {"step": step, "phase": "fd", "reward_mean": 0.5, "loss": 0.25, **kw}


def test_resume_drops_rows_past_the_step_and_a_cut_line_and_upgrades_old_columns(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    old_columns = METRIC_COLUMNS[:20]  # metrics.csv as written before the loss diagnostics were added
    with open(out / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, old_columns, extrasaction="ignore")
        w.writeheader()
        w.writerows([_row(s) for s in (1, 2, 3)])
    attempts = [{"step": s, "problem": "p", "completion": "∀"} for s in (1, 2, 2, 3)]
    (out / "rollouts.jsonl").write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in attempts) + '{"step": 3, "comp'
    )

    log = RunLog(out, main=True, steps=5, tensorboard=True, log_rollouts=True)
    log.open(2)
    log.step(_row(3, fd_div=0.125, kl_student_teacher=math.nan))
    log.close()

    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == METRIC_COLUMNS
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["fd_div"] == "" and rows[2]["fd_div"] == "0.125" and rows[2]["kl_student_teacher"] == "nan"
    kept = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert kept == attempts[:3]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_one_process_keeps_its_metrics_as_they_are():
    class One:
        num_processes = 1

    row = _row(1, fd_div=math.nan)
    assert reduce_over_ranks(One(), row) is row


def _rank_main(rank: int, port: int, results: dict) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        ACCELERATE_USE_CPU="yes",
        GLOO_SOCKET_IFNAME="lo",
    )
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)  # forked from a process that made one
    acc = Accelerator(cpu=True)
    assert acc.num_processes == 2
    # rank 0 got no FD rows (its fd_div is NaN); throughput adds up over ranks
    row = _row(1, loss=1.0 + rank, fd_div=math.nan if rank == 0 else 0.5, tokens_per_s=10.0 * (rank + 1))
    results[rank] = reduce_over_ranks(acc, row)
    acc.wait_for_everyone()


@pytest.mark.slow
def test_step_metrics_are_reduced_over_ddp_ranks():
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        results = manager.dict()
        mp.start_processes(_rank_main, args=(port, results), nprocs=2, start_method="fork")
        got = dict(results)
    assert got[0] == got[1]
    m = got[0]
    assert m["step"] == 1 and m["phase"] == "fd"
    assert m["loss"] == 1.5 and m["reward_mean"] == 0.5
    assert m["fd_div"] == 0.5  # the mean over the ranks that have it
    assert m["tokens_per_s"] == 30.0
