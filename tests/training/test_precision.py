"""Mixed precision: the dtype follows the device, and float16's loss scaling trains as it should."""

import warnings
from dataclasses import replace

import pytest
import torch
from fixtures import write_fashion_mnist
from torch import nn

from se_tutorial.data import load_dataset
from se_tutorial.training import (
    BUDGETS,
    Precision,
    TrainConfig,
    choose_precision,
    fit,
    make_optimizer,
    prepare_data,
)

TINY = replace(BUDGETS["smoke"], batch_size=64)


@pytest.fixture
def fake_gpu(monkeypatch):
    """Pretend CUDA is a GPU of the given compute capability, without one."""

    def install(capability, name):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)

    return install


@pytest.mark.parametrize(
    ("capability", "name", "dtype", "scaling"),
    [
        ((9, 0), "NVIDIA H100 80GB HBM3", torch.bfloat16, False),
        ((8, 0), "NVIDIA A100-SXM4-40GB", torch.bfloat16, False),
        ((8, 6), "NVIDIA GeForce RTX 3090", torch.bfloat16, False),
        ((7, 5), "Tesla T4", torch.float16, True),
        ((7, 0), "Tesla V100-SXM2-16GB", torch.float16, True),
    ],
)
def test_gpus_get_bfloat16_from_ampere_on_and_float16_with_scaling_before(
    fake_gpu, capability, name, dtype, scaling
):
    fake_gpu(capability, name)
    chosen = choose_precision("cuda:0")
    assert (chosen.dtype, chosen.grad_scaling, chosen.device_type) == (dtype, scaling, "cuda")
    text = str(chosen)
    assert text.startswith(chosen.name) and name in text and f"{capability[0]}.{capability[1]}" in text
    assert ("loss scaling" in text) == scaling


@pytest.mark.parametrize("has_bfloat16", [False, True])
def test_cpus_train_in_float32_and_say_whether_bfloat16_is_an_option(monkeypatch, has_bfloat16):
    monkeypatch.setattr("se_tutorial.training.precision.cpu_bfloat16", lambda: has_bfloat16)
    chosen = choose_precision(torch.device("cpu"))
    assert chosen.dtype is None and chosen.name == "float32" and not chosen.grad_scaling
    assert not chosen.grad_scaler().is_enabled()
    with chosen.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    assert "autocast off" in str(chosen)
    assert str(chosen).endswith(
        "bfloat16 instructions: yes" if has_bfloat16 else "bfloat16 instructions: none"
    )


@pytest.mark.parametrize("device", ["cpu", "cuda:0"])
def test_a_precision_asked_for_by_name_is_the_one_used(device):
    assert choose_precision(device, "float32").dtype is None
    chosen = choose_precision(device, "bfloat16")
    assert chosen.dtype == torch.bfloat16 and not chosen.grad_scaling and "asked for" in str(chosen)


def test_an_unknown_precision_is_refused_with_the_choices():
    from se_tutorial.utils.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="auto, float32, bfloat16"):
        TrainConfig(precision="fp8")


def test_a_run_in_bfloat16_says_so_in_its_history(tiny_data):
    history = fit(
        tiny_model(), tiny_data, TrainConfig(epochs=1, lr=0.1, precision="bfloat16"), progress=False
    )
    assert history.meta["precision"] == "bfloat16"
    assert 0 <= history.rows[-1]["test_accuracy"] <= 1


def test_an_enabled_cpu_autocast_computes_in_its_dtype():
    chosen = Precision("cpu", torch.bfloat16, False, "test")
    with chosen.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):  # the budget's own augmentation, unlike the shared fixture's
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist", train=512, test=256)))
    return prepare_data(load_dataset("fashion-mnist", download=False), budget=TINY, device="cpu")


def tiny_model():
    return TINY.model(attention="se", seed=0).build(in_channels=1, num_classes=10)


def scaled(monkeypatch):
    """fit on the CPU as on a float16 GPU: the loss scaler on (autocast stays off on a CPU)."""
    fake = Precision("cpu", None, True, "as on a GPU without bfloat16")
    monkeypatch.setattr("se_tutorial.training.loop.choose_precision", lambda device, requested="auto": fake)


@pytest.mark.slow
def test_loss_scaling_trains_as_without_it(tiny_data, monkeypatch):
    """A power-of-two scale, undone before the step, changes no float32 update."""
    config = TrainConfig(epochs=2, lr=0.2)
    plain_model = tiny_model()
    plain = fit(plain_model, tiny_data, config, progress=False)
    assert plain.meta["precision"] == "float32"
    scaled(monkeypatch)
    scaled_model = tiny_model()
    with_scaling = fit(scaled_model, tiny_data, config, progress=False)
    for key, value in plain_model.state_dict().items():
        torch.testing.assert_close(scaled_model.state_dict()[key], value, rtol=1e-5, atol=1e-6, msg=key)
    for ours, theirs in zip(with_scaling.rows, plain.rows, strict=True):
        assert ours["lr"] == theirs["lr"]
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)


class OverflowOnce(nn.Module):
    """A classifier whose gradients are infinite in one step, as a float16 overflow would make them.

    Linear on raw pixels, so it trains at a small learning rate (at 0.2 its loss
    explodes past the engine's divergence limit).
    """

    def __init__(self, bad_call):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)
        self.calls = 0
        self.bad_call = bad_call

    def forward(self, x):
        self.calls += 1
        logits = self.linear(x.flatten(1))
        if self.training and self.calls == self.bad_call:
            logits.register_hook(lambda grad: grad * float("inf"))
        return logits


@pytest.mark.slow
def test_an_overflowing_step_is_skipped_and_the_schedule_still_ends_on_time(tiny_data, monkeypatch, tmp_path):
    scaled(monkeypatch)
    steps_per_epoch = len(tiny_data.train)
    bad_call = 3  # the third training step
    updates = []
    original_step = torch.optim.SGD.step

    def counting_step(optimizer, *args, **kwargs):
        updates.append(1)
        return original_step(optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", counting_step)
    model = OverflowOnce(bad_call)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about the schedule stepping without the optimizer
        history = fit(
            model, tiny_data, TrainConfig(epochs=2, lr=0.01), checkpoint=tmp_path / "c.pt", progress=False
        )
    # The optimizer ran on every step but the overflowing one: the loss stayed finite, so no error.
    assert len(updates) == 2 * steps_per_epoch - 1
    assert [row["epoch"] for row in history.rows] == [1, 2]
    # The schedule counted the skipped step too, so it ends where an unskipped run's does.
    optimizer, reference = make_optimizer(
        nn.Linear(1, 1), TrainConfig(epochs=2, lr=0.01), 2 * steps_per_epoch
    )
    for _ in range(2 * steps_per_epoch - 1):
        optimizer.step()
        reference.step()
    assert history.rows[-1]["lr"] == pytest.approx(reference.get_last_lr()[0])
    # The halved loss scale is saved with the checkpoint, to resume with.
    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    assert saved["scaler"]["scale"] == 2.0**16 / 2


def test_budgets_keep_a_valid_schedule():
    """Every budget still trains for enough steps to warm up and decay."""
    for budget in BUDGETS.values():
        steps = budget.epochs * max(1, (budget.train_subset or 60_000) // budget.batch_size)
        assert steps >= 3, budget.name
        make_optimizer(nn.Linear(1, 1), TrainConfig(epochs=budget.epochs, lr=budget.lr), steps)


@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize("requested", ["float32", "bfloat16"])
def test_training_fuses_se_tails_on_a_cpu_where_that_pays(requested, kernel, monkeypatch):
    """float32: fused where the compiled kernel runs, readable where it cannot; bfloat16: always fused."""
    from fixtures import tiny_model

    from se_tutorial.nn.fused import cpu_kernel, fusion_mode
    from se_tutorial.nn.fused.fuse import fusable
    from se_tutorial.training import ready_for_training

    if not kernel:
        monkeypatch.setattr(cpu_kernel, "library", lambda dtype: None)
    elif cpu_kernel.unavailable(torch.float32):
        pytest.skip(f"the CPU kernel cannot run here: {cpu_kernel.unavailable(torch.float32)}")
    model = ready_for_training(tiny_model(), torch.device("cpu"), choose_precision("cpu", requested))
    blocks = [module for module in model.modules() if fusable(module)]
    fused = requested == "bfloat16" or kernel
    assert blocks and all(fusion_mode(block) == ("auto" if fused else False) for block in blocks)
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.slow
def test_fit_trains_se_tails_through_the_cpu_kernel_in_float32(tiny_data, monkeypatch):
    from fixtures import tiny_model

    from se_tutorial.nn.fused import cpu_kernel, fusion_mode
    from se_tutorial.nn.fused.fuse import fusable

    if cpu_kernel.unavailable(torch.float32):
        pytest.skip(f"the CPU kernel cannot run here: {cpu_kernel.unavailable(torch.float32)}")
    calls = []
    monkeypatch.setattr(cpu_kernel, "forward", lambda *a, _f=cpu_kernel.forward: calls.append(1) or _f(*a))
    model = tiny_model()
    fit(model, tiny_data, TrainConfig(epochs=1, precision="float32"), progress=False)
    blocks = [module for module in model.modules() if fusable(module)]
    assert calls and blocks and all(fusion_mode(block) == "auto" for block in blocks)


def test_the_optimizer_steps_all_tensors_at_once_with_the_per_tensor_arithmetic():
    """``foreach`` SGD: the same bits as PyTorch's per-tensor loop, for weights with and without decay."""
    from fixtures import tiny_model

    models = [tiny_model(), tiny_model()]
    config = TrainConfig(epochs=1, lr=0.1, weight_decay=5e-4)
    optimizers = [make_optimizer(model, config, 10)[0] for model in models]
    assert optimizers[0].defaults["foreach"] is True
    for group in optimizers[1].param_groups:
        group["foreach"] = False
    images = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        for model, optimizer in zip(models, optimizers, strict=True):
            optimizer.zero_grad()
            model(images).logsumexp(1).sum().backward()
            optimizer.step()
    for fast, loop in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(fast, loop)
