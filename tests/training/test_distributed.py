"""Distributed training: a 3-rank run stopped after an epoch and resumed ends bitwise as an uninterrupted one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixtures import write_fashion_mnist

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Every rank stops where Ctrl-C would stop it: as the second epoch begins.
STOPPING = """
import os, sys
from se_tutorial.cli import main
from se_tutorial.data import DeviceLoader
if os.environ.get("STOP_AT_EPOCH"):
    original = DeviceLoader.__iter__
    def stopping(loader):
        if loader.shuffle and loader.epoch == int(os.environ["STOP_AT_EPOCH"]):
            raise KeyboardInterrupt
        yield from original(loader)
    DeviceLoader.__iter__ = stopping
sys.exit(main(sys.argv[1:]))
"""


def test_a_resumed_three_rank_run_equals_an_uninterrupted_one(tmp_path):
    data = write_fashion_mnist(tmp_path / "fmnist", train=768, test=128)
    script = tmp_path / "train.py"
    script.write_text(STOPPING)
    env = {**os.environ, "SE_TUTORIAL_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=3",
        str(script),
    ]
    train = ["train", "--budget", "smoke", "--epochs", "2", "--no-progress", "--checkpoint"]

    def run(*arguments, **extra_env):
        return subprocess.run(
            [*torchrun, *train, *arguments], env={**env, **extra_env}, cwd=tmp_path, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip

    whole = run("whole.pt")
    assert whole.returncode == 0, whole.stderr[-3000:]
    stopped = run("resumed.pt", STOP_AT_EPOCH="1")
    assert "the last finished epoch (1) is saved" in stopped.stderr, stopped.stderr[-3000:]
    resumed = run("resumed.pt", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = (torch.load(tmp_path / name, weights_only=True) for name in ("whole.pt", "resumed.pt"))
    assert a["epoch"] == b["epoch"] == 2 and a["config"]["world_size"] == 3
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert [r["test_accuracy"] for r in a["history"]] == [r["test_accuracy"] for r in b["history"]]
