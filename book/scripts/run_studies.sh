#!/usr/bin/env bash
# Every sweep behind chapters 5, 6 and 7 on the brief budget, in the order the chapters need them.
# Each command skips the runs its results file already holds, so this script resumes where it
# stopped; run it again with more seeds to add seeds. About 150 runs of a minute each on 2 cores.
#
# A row records the commit its code ran at, "+dirty" when the checkout had changes: to keep
# editing while the sweeps run, run them from a clean worktree into this checkout's files,
#   git worktree add ../studies HEAD && RESULTS=$PWD/book/results ../studies/book/scripts/run_studies.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
results=${RESULTS:-book/results}
sweep() { "$python" -m se_tutorial sweep "$@" --budget brief --no-progress; }

sweep se-and-init     --seeds 0 1 2 3 4 5 6 7 8 9 --out "$results/se_and_init_brief.jsonl"
sweep stages          --seeds 0 1 2 3 4 --out "$results/ablations_brief.jsonl"
sweep longer-training --seeds 0 1 2 3 4 --out "$results/longer_training_brief.jsonl"
for study in reduction-ratio squeeze gate placement gate-zero-init; do
  sweep "$study" --seeds 0 1 2 --out "$results/ablations_brief.jsonl"
done
for study in reduction-ratio squeeze gate placement; do
  sweep "$study" --seeds 3 4 --out "$results/ablations_brief.jsonl"
done
sweep attention       --seeds 0 1 2 3 4 --out "$results/attention_brief.jsonl"
