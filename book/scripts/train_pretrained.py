"""Train the networks that ``se_tutorial.pretrained`` ships, and write them with their cards.

    python book/scripts/train_pretrained.py            # SE-ResNet-8, brief budget, seed 0

Run it on a clean tree: the card records the commit, and a ``+dirty`` commit
cannot be reproduced. It takes about three minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from se_tutorial.book.pretrained import PRETRAINED_DIR, save_pretrained
from se_tutorial.training import fit, prepare_data, resolve_budget
from se_tutorial.utils.provenance import provenance


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--budget", default="brief")
    cli.add_argument("--seed", type=int, default=0)
    args = cli.parse_args()

    device = torch.device("cpu")
    origin = provenance(device)  # the code imported now is the code that trains
    budget = resolve_budget(args.budget, device)
    data = prepare_data("fashion-mnist", budget=budget, device=device, seed=args.seed)
    spec = budget.model(attention="se", seed=args.seed)
    model = spec.build(in_channels=1, num_classes=10)
    history = fit(model, data, budget=budget, seed=args.seed)
    name = f"se_resnet{budget.depth}_fashion_mnist"
    card = {
        "name": name,
        "build": {**spec.to_row(), "in_channels": 1, "num_classes": 10},
        "dataset": "fashion-mnist",
        "budget": budget.name,
        "seed": args.seed,
        "epochs": budget.epochs,
        "test_accuracy": history.rows[-1]["test_accuracy"],
        "history": history.rows,
        **origin,
    }  # fmt: skip
    path = save_pretrained(PRETRAINED_DIR / f"{name}.pt", model, card)
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}: "
          f"test accuracy {card['test_accuracy']:.4f}, commit {card['commit']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
