"""Results files under attack: damaged lines fail with their line number before any training."""

import json

import pytest

from se_tutorial.studies import ResultsFileError, read_rows, run_sweep
from se_tutorial.studies.ablations import accuracies
from se_tutorial.studies.sweeps import summary_table


def row(seed=0, variant="resnet", accuracy=0.9, **extra):
    return {
        "sweep": "se-and-init", "variant": variant, "seed": seed, "budget": "smoke",
        "dataset": "fashion-mnist", "test_accuracy": accuracy, **extra,
    }  # fmt: skip


def write(path, *lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", r"line 2 holds \[1, 2\] \(a list\), not a results row"),
        ("42", r"line 2 holds 42 \(a int\), not a results row"),
        (json.dumps(row(seed="0")), r"line 2: seed must be a whole number, got '0' \(a str\)"),
        (json.dumps(row(seed=True)), r"line 2: seed must be a whole number, got True"),
        (json.dumps(row(accuracy=float("nan"))), r"line 2: test_accuracy must be a finite number, got nan"),
        (json.dumps({k: v for k, v in row().items() if k != "budget"}), r"line 2 has no 'budget'"),
        (json.dumps({k: v for k, v in row().items() if k != "variant"}), r"line 2 has no 'variant'"),
    ],
    ids=["list", "number", "seed-as-text", "seed-as-bool", "nan-accuracy", "no-budget", "no-variant"],
)
def test_a_line_that_is_not_a_results_row_is_named_with_its_line(tmp_path, line, message):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row()) + "\n" + line + "\n")
    with pytest.raises(ResultsFileError, match=message):
        read_rows(path)


def test_a_file_of_random_bytes_is_not_a_results_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ResultsFileError, match="it is not UTF-8 text"):
        read_rows(path)


def test_a_sweep_refuses_a_damaged_file_before_training_anything(tmp_path, monkeypatch):
    out = write(tmp_path / "rows.jsonl", row(), "[1, 2]")
    monkeypatch.setattr("se_tutorial.studies.sweeps.run", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ResultsFileError, match="line 2"):
        run_sweep("se-and-init", [0, 1], out, budget="smoke", progress=False)


def test_a_run_recorded_twice_counts_once_in_the_summary(tmp_path):
    rows = [row(0), row(0), row(1, accuracy=0.8)]
    table = summary_table(rows)
    assert "se-and-init   resnet      smoke        2" in table


def test_a_single_runs_row_in_a_sweep_file_is_in_no_study(tmp_path):
    single = {k: v for k, v in row().items() if k not in ("sweep", "variant")}
    path = write(tmp_path / "rows.jsonl", row(0, "se-resnet", 0.91), single)
    assert accuracies(read_rows(path), "se-and-init", "se-resnet", "smoke") == {0: 0.91}
    assert "se-resnet" in summary_table(read_rows(path))
