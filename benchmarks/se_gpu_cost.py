"""What SE costs on a GPU, where that time goes, and what the fused SE path saves.

    python benchmarks/se_gpu_cost.py            # on a GPU: all parts, about 5-8 minutes on an H100
    python benchmarks/se_gpu_cost.py --smoke    # the same code paths on a CPU with tiny shapes, in seconds
    python benchmarks/se_gpu_cost.py --no-compile --parts profile tail

Three parts, each written to the results file as soon as it is done:

``profile``  one SE tail (squeeze, excitation, scale, residual add, ReLU) forward and
             backward under ``torch.profiler``, readable and fused: per operator and per
             kernel the device time, the bytes it must move (inputs read plus outputs
             written, counted by a dispatch mode) and the bandwidth that achieves, against
             the copy bandwidth measured on the same device (a roofline for memory-bound
             work), and the number of kernels per pass (small maps are launch-bound).
``tail``     forward+backward time of that tail at every SE stage of ResNet-50 (batch 256,
             224x224) and of the book's ResNet-20x4 (batch 512, 28x28), readable vs fused,
             with the time the bytes would take at the measured bandwidth.
``networks`` one training step (SGD, bfloat16 autocast, channels-last) of ResNet-50 vs
             SE-ResNet-50 at batch 256, 224x224: this package's models (readable and fused),
             timm's ``resnet50`` / ``seresnet50``, eager and under ``torch.compile``, and the
             book's ResNet-20x4 with and without SE at batch 512, 28x28; each as a ratio to the
             plain ResNet of its suite in the same mode and run.

Times are medians over rounds in which the variants take turns, so slow drifts of a
shared machine hit all alike. ``--time-limit`` stops compiling further variants when the
run has taken that long (they are listed as skipped), so a time-limited session still
writes what it measured. Results: ``benchmarks/results/se_gpu_cost.json`` with commit,
versions, device and date.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from se_tutorial import SEBlock, cifar_resnet, resnet50, se_resnet50
from se_tutorial.nn.fused import fuse_se, interpreted, se_residual, triton_available
from se_tutorial.training import Precision, choose_precision
from se_tutorial.utils.files import atomic_write_text
from se_tutorial.utils.provenance import provenance

RESULTS = Path(__file__).parent / "results"
PARTS = ("profile", "tail", "networks")

#: (N, C, H, W) after each SE of ResNet-50 at batch 256, 224x224, and of ResNet-20x4 at batch 512, 28x28.
TAIL_SHAPES = {
    "resnet50": [(256, 256, 56, 56), (256, 512, 28, 28), (256, 1024, 14, 14), (256, 2048, 7, 7)],
    "resnet20x4": [(512, 64, 28, 28), (512, 128, 14, 14), (512, 256, 7, 7)],
}
SMOKE_TAIL_SHAPES = {"resnet50": [(2, 32, 8, 8), (2, 64, 4, 4)], "resnet20x4": [(4, 16, 8, 8)]}


class Settings:
    """Sizes and repetitions: the real ones, or tiny ones for ``--smoke``."""

    def __init__(self, smoke: bool) -> None:
        self.smoke = smoke
        self.device = torch.device("cuda" if torch.cuda.is_available() and not smoke else "cpu")
        self.precision: Precision = choose_precision(self.device)
        self.dtype = self.precision.dtype or torch.float32
        self.profile_shape = (2, 32, 8, 8) if smoke else (256, 256, 56, 56)
        self.tail_shapes = SMOKE_TAIL_SHAPES if smoke else TAIL_SHAPES
        self.imagenet = (2, 32) if smoke else (256, 224)  # batch, image size
        self.small = (4, 12) if smoke else (512, 28)
        self.small_net = (8, 1) if smoke else (20, 4)  # depth, width of the book's "full" ResNet
        self.rounds, self.iterations, self.warmup = (1, 1, 1) if smoke else (7, 5, 3)
        self.copy_bytes = 2**22 if smoke else 2**30
        # The smoke run checks that the models trace (Dynamo, fake tensors, AOT autograd's joint
        # graph), not Inductor's code generation, and only on the small network: on two CPU cores
        # more would take minutes.
        self.compile_backend = "aot_eager" if smoke else "inductor"
        self.compile_suites = ("resnet20x4",) if smoke else ("resnet50", "resnet20x4")
        self.triton_kernels = self.device.type == "cuda" and triton_available() and not interpreted()

    def as_dict(self) -> dict:
        return {
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "precision": str(self.precision),
            "rounds": self.rounds,
            "iterations": self.iterations,
            "compile_backend": self.compile_backend,
            "fused_kernels": "triton" if self.triton_kernels else "pytorch reference",
        }


# --- timing ----------------------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(fn: Callable[[], object], iterations: int, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / iterations


def median_times(fns: dict[str, Callable[[], object]], settings: Settings) -> dict[str, float]:
    """Median seconds per call of each function; they take turns within each round."""
    names = list(fns)
    for name in names:
        seconds_per_call(fns[name], settings.warmup, settings.device)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(settings.rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(seconds_per_call(fns[name], settings.iterations, settings.device))
    return {name: statistics.median(values) for name, values in samples.items()}


def copy_bandwidth(settings: Settings) -> float:
    """Bytes per second of a device-to-device copy (read + write): the roofline's memory ceiling."""
    source = torch.empty(settings.copy_bytes, dtype=torch.uint8, device=settings.device)
    target = torch.empty_like(source)
    seconds = min(
        seconds_per_call(lambda: target.copy_(source), 3, settings.device) for _ in range(settings.rounds)
    )
    return 2 * settings.copy_bytes / seconds


# --- bytes moved -----------------------------------------------------------------------------

_NO_TRAFFIC = {"aten::empty", "aten::empty_strided", "aten::empty_like", "aten::new_empty", "aten::detach"}


def touched_bytes(tensor: torch.Tensor) -> int:
    """Bytes of the distinct elements a tensor covers (a broadcast dimension counts once)."""
    elements = 1
    for size, stride in zip(tensor.shape, tensor.stride(), strict=True):
        elements *= size if stride else 1
    return elements * tensor.element_size()


class ByteCounter(TorchDispatchMode):
    """Per operator: calls and the bytes its inputs and outputs cover (each read or written once)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = defaultdict(int)
        self.bytes: dict[str, int] = defaultdict(int)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        name = func._schema.name
        if not func.is_view and name not in _NO_TRAFFIC:
            tensors = [t for t in tree_flatten((args, kwargs, result))[0] if isinstance(t, torch.Tensor)]
            self.calls[name] += 1
            self.bytes[name] += sum(touched_bytes(t) for t in tensors)
        return result


# --- the SE tail -----------------------------------------------------------------------------


def tail_step(
    shape: tuple[int, ...], fused: bool, settings: Settings
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """Forward and backward of ``relu(se(x) + identity)`` on a branch output of ``shape``.

    The step returns the output and the gradients of ``x`` and ``identity``; both
    variants draw the same weights and inputs.
    """
    torch.manual_seed(0)
    se = SEBlock(shape[1]).to(settings.device)

    def make() -> torch.Tensor:
        x = torch.randn(shape, device=settings.device, dtype=settings.dtype)
        return x.contiguous(memory_format=torch.channels_last)

    x, identity, grad = make().requires_grad_(), make().requires_grad_(), make()

    def step() -> tuple[torch.Tensor, ...]:
        x.grad = identity.grad = None
        with settings.precision.autocast():
            out = se_residual(se, x, identity, fused=fused)
        out.backward(grad)
        return out.detach(), x.grad, identity.grad

    return step


def difference(shape: tuple[int, ...], settings: Settings) -> float:
    """How far fused is from readable: mean |difference| / mean |value|, the worst of output and gradients.

    A mean, not a maximum: in bfloat16 the two round some pre-activations near zero
    to opposite signs, so a few gradients differ by their whole value either way.
    Rounding alone gives about 1e-3; a wrong kernel gives about 1.
    """
    readable, fused = tail_step(shape, False, settings)(), tail_step(shape, True, settings)()
    return max(
        ((a.float() - b.float()).abs().mean() / b.float().abs().mean().clamp_min(1e-12)).item()
        for a, b in zip(fused, readable, strict=True)
        if b.numel()
    )


def tail_bytes(shape: tuple[int, ...], fused: bool, settings: Settings) -> ByteCounter:
    counter = ByteCounter()
    step = tail_step(shape, fused, settings)
    with counter:
        step()
    return counter


def profiled_name(key: str) -> str:
    """The operator a profiler row stands for.

    Custom operators written in Python appear under their autograd wrappers, e.g.
    ``GeneratedBackwardFor_se_tutorial_squeeze_default`` (forward) and ``..._defaultBackward``;
    a Triton kernel they launch is charged to that row.
    """
    prefix = "GeneratedBackwardFor_se_tutorial_"
    if not key.startswith(prefix):
        return key
    backward = key.endswith("Backward")
    op = key.removeprefix(prefix).removesuffix("Backward").removesuffix("_default")
    return f"se_tutorial::{op}{'_backward' if backward else ''}"


def profile_tail(settings: Settings, bandwidth: float) -> dict:
    """Operators and kernels of one SE tail forward+backward, readable and fused."""
    from torch.profiler import ProfilerActivity, profile

    shape = settings.profile_shape
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if settings.device.type == "cuda" else [])
    on_device = settings.device.type == "cuda"
    report = {"shape": list(shape), "variants": {}}
    for label, fused in (("readable", False), ("fused", True)):
        step = tail_step(shape, fused, settings)
        counter = tail_bytes(shape, fused, settings)
        seconds_per_call(step, settings.warmup, settings.device)
        iterations = settings.iterations
        with profile(activities=activities) as prof:
            seconds_per_call(step, iterations, settings.device)
        ops, kernels = [], []
        for event in prof.key_averages():
            name = profiled_name(event.key)
            device_us = event.self_device_time_total / iterations
            cpu_us = event.self_cpu_time_total / iterations
            is_kernel = event.device_type == torch.autograd.DeviceType.CUDA
            if is_kernel:
                kernels.append(
                    {"kernel": event.key[:90], "calls": event.count / iterations, "us": round(device_us, 2)}
                )
            elif name in counter.calls or (on_device and device_us > 0):
                us = device_us if on_device else cpu_us
                moved = counter.bytes.get(name)
                ops.append(
                    {
                        "op": name,
                        "calls": event.count / iterations,
                        "us": round(us, 2),
                        "MB": round(moved / 1e6, 3) if moved is not None else None,
                        "GB/s": round(moved / us / 1e3, 1) if moved and us else None,
                        "of_peak": round(moved / us / 1e-6 / bandwidth, 3) if moved and us else None,
                    }
                )
        ops.sort(key=lambda row: -row["us"])
        kernels.sort(key=lambda row: -row["us"])
        moved = sum(counter.bytes.values())
        busy_us = sum(row["us"] for row in (kernels if on_device else ops))
        wall_us = seconds_per_call(step, iterations, settings.device) * 1e6
        report["variants"][label] = {
            "wall_us": round(wall_us, 1),
            "busy_us": round(busy_us, 1),
            "kernels_per_pass": sum(row["calls"] for row in kernels),
            "MB_moved": round(moved / 1e6, 2),
            "roofline_us": round(moved / bandwidth * 1e6, 1),
            "ops": ops,
            "kernels": kernels[:25],
        }
        print(f"\n{label} SE tail {shape}: wall {wall_us:.0f} us, device busy {busy_us:.0f} us, "
              f"{moved / 1e6:.1f} MB -> {moved / bandwidth * 1e6:.0f} us at the copy bandwidth")  # fmt: skip
        print(f"  {'operator':<42}{'calls':>6}{'us':>10}{'MB':>10}{'GB/s':>9}{'of peak':>9}")
        for row in ops[:14]:
            print(f"  {row['op'][:42]:<42}{row['calls']:>6.0f}{row['us']:>10.1f}{row['MB'] or 0:>10.2f}"
                  f"{row['GB/s'] or 0:>9.0f}{row['of_peak'] or 0:>9.2f}")  # fmt: skip
    return report


def time_tails(settings: Settings, bandwidth: float) -> list[dict]:
    rows = []
    print(f"\n{'SE tail (N, C, H, W)':<28}{'readable ms':>12}{'fused ms':>10}{'fused/readable':>16}"
          f"{'roofline ms r/f':>18}{'difference':>12}")  # fmt: skip
    for network, shapes in settings.tail_shapes.items():
        for shape in shapes:
            times = median_times(
                {
                    label: tail_step(shape, fused, settings)
                    for label, fused in (("readable", False), ("fused", True))
                },
                settings,
            )
            roofline = {
                label: sum(tail_bytes(shape, fused, settings).bytes.values()) / bandwidth
                for label, fused in (("readable", False), ("fused", True))
            }
            row = {
                "network": network,
                "shape": list(shape),
                "difference": difference(shape, settings),
                "ms": {k: round(v * 1e3, 4) for k, v in times.items()},
                "roofline_ms": {k: round(v * 1e3, 4) for k, v in roofline.items()},
                "fused_over_readable": round(times["fused"] / times["readable"], 3),
            }
            rows.append(row)
            print(f"{network + ' ' + str(shape):<28}{row['ms']['readable']:>12.3f}{row['ms']['fused']:>10.3f}"
                  f"{row['fused_over_readable']:>16.3f}"
                  f"{row['roofline_ms']['readable']:>9.3f}/{row['roofline_ms']['fused']:<8.3f}"
                  f"{row['difference']:>12.2e}")  # fmt: skip
    return rows


# --- whole networks --------------------------------------------------------------------------


def timm_model(name: str) -> Callable[[], nn.Module] | None:
    try:
        import timm
    except ImportError:
        return None
    return lambda: timm.create_model(name, pretrained=False, num_classes=1000)


def suites(settings: Settings) -> dict[str, dict]:
    """Per suite: its baseline and ``{variant: (build, fuse mode)}``; ``None`` builds are skipped."""
    small_batch, small_size = settings.small
    depth, width = settings.small_net

    def small(attention: str | None = None) -> nn.Module:
        return cifar_resnet(depth, in_channels=1, width=width, attention=attention, seed=0)

    return {
        "resnet50": {
            "baseline": "resnet50",
            "input": (settings.imagenet[0], 3, settings.imagenet[1], settings.imagenet[1]),
            "classes": 1000,
            "variants": {
                "resnet50": (lambda: resnet50(seed=0), False),
                "se_resnet50": (lambda: se_resnet50(seed=0), False),
                "se_resnet50 fused": (lambda: se_resnet50(seed=0), True),
                "timm resnet50": (timm_model("resnet50"), False),
                "timm seresnet50": (timm_model("seresnet50"), False),
            },
        },
        "resnet20x4": {
            "baseline": "resnet20x4",
            "input": (small_batch, 1, small_size, small_size),
            "classes": 10,
            "variants": {
                "resnet20x4": (small, False),
                "se_resnet20x4": (lambda: small("se"), False),
                "se_resnet20x4 fused": (lambda: small("se"), True),
            },
        },
    }


def train_step(
    model: nn.Module, shape: tuple[int, ...], classes: int, settings: Settings
) -> Callable[[], None]:
    """One SGD step on a fixed random batch, as ``fit`` takes it (autocast, channels-last)."""
    generator = torch.Generator(device=settings.device).manual_seed(0)
    images = torch.randn(shape, device=settings.device, generator=generator).contiguous(
        memory_format=torch.channels_last
    )
    labels = torch.randint(0, classes, shape[:1], device=settings.device, generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with settings.precision.autocast():
            loss = F.cross_entropy(model(images).float(), labels)
        loss.backward()
        optimizer.step()

    return step


def time_suite(
    suite_name: str, suite: dict, compiled: bool, settings: Settings, deadline: float, notes: list[str]
) -> list[dict]:
    """Training-step times of one suite's variants in one mode, with ratios to its baseline."""
    mode = "compiled" if compiled else "eager"
    steps: dict[str, Callable[[], None]] = {}
    for name, (build, fuse_mode) in suite["variants"].items():
        if build is None:
            note = f"{name}: skipped, timm is not installed"
            notes.extend([note] if note not in notes else [])
            continue
        if compiled and time.perf_counter() > deadline:
            notes.append(f"{name} ({mode}): skipped, the time limit was reached")
            continue
        torch.manual_seed(0)
        model = build().to(settings.device, memory_format=torch.channels_last).train()
        if fuse_mode:
            fuse_se(model, mode=True)
        runnable = torch.compile(model, backend=settings.compile_backend) if compiled else model
        step = train_step(runnable, suite["input"], suite["classes"], settings)
        started = time.perf_counter()
        step()  # compiles, under torch.compile
        synchronize(settings.device)
        if compiled:
            print(f"  compiled {name} in {time.perf_counter() - started:.0f} s", flush=True)
        steps[name] = step
    if not steps:
        return []
    times = median_times(steps, settings)
    base = times.get(suite["baseline"])
    rows = []
    for name, seconds in times.items():
        row = {
            "suite": suite_name,
            "variant": name,
            "mode": mode,
            "ms_per_step": round(seconds * 1e3, 3),
            "images_per_s": round(suite["input"][0] / seconds, 1),
            "ratio_to_baseline": round(seconds / base, 3) if base else None,
        }
        if name.startswith("timm se") and "timm resnet50" in times:
            row["ratio_to_timm_resnet50"] = round(seconds / times["timm resnet50"], 3)
        rows.append(row)
        ratio = f"{row['ratio_to_baseline']:.3f}" if base else "-"
        print(f"{suite_name:<12}{mode:<10}{name:<24}{row['ms_per_step']:>10.2f} ms"
              f"{row['images_per_s']:>10.0f} img/s   x{ratio} of {suite['baseline']}", flush=True)  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU: checks the code paths")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--no-compile", action="store_true", help="eager mode only")
    parser.add_argument(
        "--time-limit", type=float, default=420.0, help="seconds after which no more compiling"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings(args.smoke)
    if args.smoke:
        torch.set_num_threads(1)  # tiny shapes: threads only contend, most with other work on the machine
    out = args.out or RESULTS / f"se_gpu_cost{'_smoke' if args.smoke else ''}.json"
    if settings.device.type != "cuda" and not args.smoke:
        print("No GPU: measuring on the CPU anyway (use --smoke for a quick check).", file=sys.stderr)
    print(f"device: {settings.device}, {settings.precision}")
    if settings.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    # Each compiled ResNet instance is one more compilation of ResNet.forward: allow them all.
    limit = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"
    setattr(torch._dynamo.config, limit, max(getattr(torch._dynamo.config, limit), 64))

    notes: list[str] = []
    if not settings.triton_kernels:
        notes.append("the fused rows ran the operators' PyTorch reference: no Triton kernels here")
    result = {
        "benchmark": "SE cost on a GPU: profile of the SE tail, tail timings, training steps",
        **provenance(settings.device),
        "settings": settings.as_dict(),
        "notes": notes,
    }

    def write() -> None:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")

    bandwidth = copy_bandwidth(settings)
    result["copy_bandwidth_GBps"] = round(bandwidth / 1e9, 1)
    print(f"copy bandwidth: {bandwidth / 1e9:.0f} GB/s")
    if "profile" in args.parts:
        result["profile"] = profile_tail(settings, bandwidth)
        write()
    if "tail" in args.parts:
        result["tail"] = time_tails(settings, bandwidth)
        write()
    if "networks" in args.parts:
        # Eager first, then compiled (ResNet-50 first, timm last): a time limit cuts the least needed.
        result["networks"] = []
        for compiled in [False] if args.no_compile else [False, True]:
            for name, suite in suites(settings).items():
                if compiled and name not in settings.compile_suites:
                    continue
                result["networks"] += time_suite(
                    name, suite, compiled, settings, started + args.time_limit, notes
                )
                write()
                if settings.device.type == "cuda":
                    torch.cuda.empty_cache()
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    write()
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
