"""Named sweeps: variants of one network over seeds, one results row per run.

    python -m se_tutorial sweep se-and-init --seeds 0 1 2 --budget brief \\
        --out results/se_and_init.jsonl

A :class:`Sweep` names a baseline network and its variants, each variant a
few :class:`~se_tutorial.nn.ModelSpec` fields changed from the baseline's.
Each finished run is appended to the JSON-lines file at once, under a file
lock, so sweeps running at the same time into one file keep every row. Runs
already in the file are skipped, so an interrupted sweep continues where it
stopped; and a sweep claims each run before training it (a lock beside the
file, released by the system even if the sweep is killed), so sweeps running
at the same time share the work instead of training a run twice.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..data import NORMALIZATION
from ..nn.attention import ATTENTION_LAYERS
from ..training import Budget, choose_precision, default_device, resolve_budget
from ..utils import checks
from ..utils.errors import ConfigurationError
from ..utils.files import check_writable, claim, wait_for_claim
from .results import append_row, read_rows, run_key
from .runs import run


@dataclass(frozen=True)
class Sweep:
    """A baseline network and its variants, each a set of overrides of the baseline's fields.

    ``base`` gives the baseline's :class:`~se_tutorial.nn.ModelSpec` fields
    that differ from the budget's plain network; ``variants`` maps each
    variant's name (the baseline's included, with no overrides) to the fields
    it changes. ``attention_options`` merge key by key.
    """

    baseline: str
    base: Mapping[str, object]
    variants: Mapping[str, Mapping[str, object]]
    #: variants that build the very network of another sweep's variant, and are read from its
    #: runs instead of trained again: ``{variant: (sweep, variant)}``
    borrowed: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: how many times the budget's epochs each run trains (3: a longer-training point)
    epoch_factor: int = 1

    def own_variants(self) -> list[str]:
        """The variants this sweep trains: all but the borrowed ones.

        >>> SWEEPS["gate"].own_variants()
        ['tanh', 'relu', 'hard_sigmoid']
        """
        return [variant for variant in self.variants if variant not in self.borrowed]

    def epochs(self, budget: Budget) -> int:
        """The epochs of each run of this sweep on ``budget``."""
        return budget.epochs * self.epoch_factor

    def fields(self, variant: str) -> dict[str, object]:
        """The ModelSpec fields of ``variant``: the baseline's, with the variant's overrides.

        >>> SWEEPS["reduction-ratio"].fields("r=4")["attention_options"]
        {'reduction_ratio': 4, 'hidden_channels': 'exact'}
        """
        overrides = self.variants[checks.choice("variant", variant, self.variants)]
        merged = {**self.base, **overrides}
        if "attention_options" in overrides:
            merged["attention_options"] = {
                **self.base.get("attention_options", {}),
                **overrides["attention_options"],
            }
        return merged

    def why_not_buildable(self, variant: str, budget: Budget, in_channels: int = 1) -> str | None:
        """Why ``variant`` cannot be built on ``budget``'s network, or ``None`` if it can."""
        fields = self.fields(variant)  # an unknown variant is the caller's mistake: it raises
        try:
            budget.model(**fields).build(in_channels=in_channels, num_classes=10)
        except ValueError as error:
            return str(error)
        return None


def _gates(*names: str) -> dict[str, dict]:
    return {name: {} if name == "sigmoid" else {"attention_options": {"gate": name}} for name in names}


SE = {"attention": "se"}
#: Zero-init residual: every residual branch's last BN scale starts at 0 (gamma = 0), so each
#: block starts as the identity. ModelSpec's default is the standard init (gamma = 1).
ZERO_INIT = {"zero_init_residual": True}
#: The factorial's runs that other sweeps read instead of training the same network again.
PLAIN, STANDARD_SE, STANDARD_SE_ZERO_INIT = (
    ("se-and-init", "resnet"), ("se-and-init", "se-resnet"), ("se-and-init", "se-resnet, zero-init"),
)  # fmt: skip

#: The sweeps by name: SE against plain from both inits, a longer-training point, and the
#: SENet paper's ablations (TPAMI, Tables 10-14), every one from the standard init but the
#: zero-init gate study.
SWEEPS: dict[str, Sweep] = {
    # SE against plain from both initialisations, paired by seed: is zero-init why SE does not help?
    "se-and-init": Sweep(
        "resnet",
        {},
        {
            "resnet": {},
            "se-resnet": SE,
            "resnet, zero-init": ZERO_INIT,
            "se-resnet, zero-init": {**SE, **ZERO_INIT},
        },
    ),
    # Does more training change the answer? Three times the budget's epochs, standard init.
    "longer-training": Sweep("resnet", {}, {"resnet": {}, "se-resnet": SE}, epoch_factor=3),
    # Exactly C / r hidden units: the small-channel rule would distort a study of r.
    "reduction-ratio": Sweep(
        "r=16",
        {**SE, "attention_options": {"reduction_ratio": 16, "hidden_channels": "exact"}},
        {
            f"r={r}": {"attention_options": {"reduction_ratio": r}} if r != 16 else {}
            for r in (2, 4, 8, 16, 32)
        },
    ),
    "squeeze": Sweep(
        "avg", SE, {"avg": {}, "max": {"attention_options": {"squeeze": "max"}}}, {"avg": STANDARD_SE}
    ),
    "gate": Sweep("sigmoid", SE, _gates("sigmoid", "tanh", "relu", "hard_sigmoid"), {"sigmoid": STANDARD_SE}),
    # Zero-init residual with a gate that is 0 at 0 (tanh, ReLU) and bias-free FC layers is a
    # fixed point: every residual branch outputs 0 and gets 0 gradient, forever.
    "gate-zero-init": Sweep(
        "sigmoid", {**SE, **ZERO_INIT}, _gates("sigmoid", "tanh", "relu"), {"sigmoid": STANDARD_SE_ZERO_INIT}
    ),
    "placement": Sweep(
        "standard",
        SE,
        {"standard": {}, **{name: {"placement": name} for name in ("pre", "post", "identity")}},
        {"standard": STANDARD_SE},
    ),
    # SE in one stage at a time, against the plain network (the paper's Table 13).
    "stages": Sweep(
        "resnet",
        {},
        {
            "resnet": {},
            **{f"stage {stage} only": {**SE, "attention_stages": (stage,)} for stage in (1, 2, 3)},
            "all stages": SE,
        },
        {"resnet": PLAIN, "all stages": STANDARD_SE},
    ),
    # The attention modules after SE, each with its paper's defaults, in SE's place. The plain and
    # SE networks are trained again here (not read from se-and-init) so that every pair of a seed
    # shares one machine and one commit.
    "attention": Sweep(
        "resnet",
        {},
        {
            "resnet": {},
            **{name: {"attention": name} for name in ATTENTION_LAYERS},
            "ge-theta": {"attention": "ge", "attention_options": {"extent": 4, "parametric": True}},
        },
    ),
}


def claim_path(out: Path, key: tuple) -> Path:
    """The lock file by which a sweep claims one run of ``out`` (in a hidden folder beside it)."""
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:20]
    return out.parent / f".{out.name}.claims" / f"{digest}.lock"


def buildable_variants(sweep: str, names: list[str], budget: Budget, dataset: str) -> list[str]:
    """The variants of ``names`` that ``budget``'s network can build; says which it leaves out, and why."""
    chosen, in_channels = SWEEPS[sweep], len(NORMALIZATION[dataset][0])
    kept = []
    for name in names:
        reason = chosen.why_not_buildable(name, budget, in_channels)
        if reason is None:
            kept.append(name)
        else:
            print(f"{sweep}: skipping {name} on the {budget.name} budget: {reason}", file=sys.stderr)
    return kept


def run_sweep(
    sweep: str,
    seeds: list[int],
    out: Path,
    *,
    budget: str | None = None,
    dataset: str = "fashion-mnist",
    progress: bool = True,
    variants: list[str] | None = None,
) -> list[dict]:
    """Run every variant of ``sweep`` (or those named in ``variants``) for every seed; returns ``out``'s rows.

    Variants that the budget's network cannot build (exactly ``C / 32`` units
    of a 16-channel stage) are skipped, with a line saying why, unless named
    in ``variants``: then the sweep refuses before any training. Runs already
    in ``out`` are skipped; a run that another sweep has claimed is left to it,
    and waited for at the end (and trained here if that sweep died first).
    """
    chosen = SWEEPS[checks.choice("sweep", sweep, SWEEPS)]
    names = [
        checks.choice(f"{sweep} variant", name, chosen.variants) for name in variants or chosen.own_variants()
    ]
    for name in names:
        if name in chosen.borrowed:
            source, source_variant = chosen.borrowed[name]
            raise ConfigurationError(
                f"{sweep} variant {name} is the same network as {source} variant {source_variant}, whose "
                f"runs it reads: run `python -m se_tutorial sweep {source} --variants '{source_variant}'`."
            )
    seeds = list(dict.fromkeys(checks.seed("seed", seed) for seed in seeds))  # each seed once
    dataset = checks.choice("dataset", dataset, NORMALIZATION)
    out = Path(out)
    check_writable(out, "the results file")
    read_rows(out)  # a damaged file fails now, not after the first run
    resolved = resolve_budget(budget, default_device())
    precision = choose_precision(default_device()).name  # what run() will train in: part of each run's key
    if variants:
        channels = len(NORMALIZATION[dataset][0])
        unbuildable = {
            n: r for n in names if (r := chosen.why_not_buildable(n, resolved, channels)) is not None
        }
        if unbuildable:
            name, reason = next(iter(unbuildable.items()))
            raise ConfigurationError(
                f"{sweep} variant {name} cannot be built on the {resolved.name} budget: {reason}"
            )
    names = buildable_variants(sweep, names, resolved, dataset)
    pending = [(seed, variant) for seed in seeds for variant in names]
    epochs = chosen.epochs(resolved)
    while pending:
        claimed_elsewhere = []
        for seed, variant in pending:
            key = (sweep, variant, seed, resolved.name, dataset, epochs, precision)
            with claim(claim_path(out, key)) as ours:
                if not ours:
                    claimed_elsewhere.append((seed, variant))
                    continue
                if _finished(out, key):  # already in the file (this sweep's earlier try, or another's)
                    continue
                fields = chosen.fields(variant)
                row = run(
                    fields, dataset=dataset, budget=resolved.name, seed=seed, epochs=epochs, progress=progress
                )
                append_row(out, {"sweep": sweep, "variant": variant, **row})
        for seed, variant in claimed_elsewhere[:1]:  # wait for one; then look at all of them again
            if progress:
                print(
                    f"{sweep}: waiting for {len(claimed_elsewhere)} runs another sweep is training",
                    file=sys.stderr,
                )
            wait_for_claim(claim_path(out, (sweep, variant, seed, resolved.name, dataset, epochs, precision)))
        pending = claimed_elsewhere
    return read_rows(out)


def _finished(out: Path, key: tuple) -> bool:
    return any(run_key(row) == key for row in read_rows(out) if "sweep" in row)


def summary_table(rows: list[dict]) -> str:
    """Mean, standard deviation and count of final test accuracy per (sweep, variant, budget).

    A run recorded twice (the same sweep, variant, seed, budget and dataset)
    counts once: the first row.
    """
    groups: dict[tuple, list[float]] = defaultdict(list)
    seen = set()
    for row in rows:
        if "sweep" in row:
            if run_key(row) in seen:
                continue
            seen.add(run_key(row))
        variant = row.get("variant", row.get("attention") or "none")
        groups[(row.get("sweep", "-"), variant, row["budget"])].append(row["test_accuracy"])
    lines = [f"{'sweep':<14}{'variant':<12}{'budget':<8}{'seeds':>6}{'mean acc':>10}{'std':>8}"]
    for (sweep, variant, budget), values in sorted(groups.items()):
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        lines.append(
            f"{sweep:<14}{variant:<12}{budget:<8}{len(values):>6}{statistics.mean(values):>10.4f}{spread:>8.4f}"
        )
    return "\n".join(lines)
