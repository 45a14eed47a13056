"""The compiled SE tail (se_tutorial/nn/fused/se_tail.c) computes what the readable tail does.

The kernel is built on first use with the system's C compiler. These tests
check its gradients numerically in float64, compare it in float32 with the
same equations as PyTorch operations, and check what loading it must never
do to the process (a second OpenMP runtime, denormals flushed to zero). A
machine without a compiler skips only the tests that need the kernel; the
fallback is tested everywhere.
"""

import contextlib
import copy
import re

import pytest
import torch

from se_tutorial import SEBlock, cifar_resnet
from se_tutorial.nn.fused import cpu_kernel, fuse_se
from se_tutorial.nn.fused.cpu import SEResidual, se_residual_cpu

CL = torch.channels_last
needs_kernel = pytest.mark.skipif(
    cpu_kernel.unavailable(torch.float64) is not None, reason=f"no CPU kernel: {cpu_kernel.unavailable()}"
)


def tail_inputs(shape, reduced, dtype, bias, seed=0):
    generator = torch.Generator().manual_seed(seed)
    c = shape[1]

    def tensor(*size):
        return torch.randn(*size, generator=generator, dtype=dtype)

    x, shortcut = tensor(*shape).contiguous(memory_format=CL), tensor(*shape).contiguous(memory_format=CL)
    weights = [
        tensor(reduced, c),
        tensor(reduced) if bias else None,
        tensor(c, reduced),
        tensor(c) if bias else None,
    ]
    return [x, shortcut, *weights]


def counted_kernel_calls(monkeypatch):
    calls = []
    original = cpu_kernel.forward
    monkeypatch.setattr(cpu_kernel, "forward", lambda *args: calls.append(args[1].shape) or original(*args))
    return calls


@needs_kernel
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shape", [(3, 6, 4, 5), (2, 1, 3, 3), (2, 5, 1, 1), (2, 16, 3, 2)])
def test_kernel_passes_gradcheck_in_float64(shape, bias, monkeypatch):
    calls = counted_kernel_calls(monkeypatch)
    inputs = [
        t.requires_grad_() if t is not None else None for t in tail_inputs(shape, 3, torch.float64, bias)
    ]
    assert torch.autograd.gradcheck(SEResidual.apply, tuple(inputs))
    assert calls  # the kernel ran, not the PyTorch fallback


@needs_kernel
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(
    ("shape", "reduced"), [((128, 16, 14, 14), 8), ((64, 64, 4, 4), 4), ((0, 8, 3, 3), 4)]
)
def test_kernel_equals_the_pytorch_operations_in_float32(shape, reduced, bias, monkeypatch):
    calls = counted_kernel_calls(monkeypatch)
    results = []
    for use_kernel in (True, False):
        inputs = [
            t.requires_grad_() if t is not None else None
            for t in tail_inputs(shape, reduced, torch.float32, bias)
        ]
        if use_kernel:
            out = SEResidual.apply(*inputs)
        else:
            with cpu_kernel.disabled():
                out = SEResidual.apply(*inputs)
        grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=CL)
        out.backward(grad)
        results.append([out, *(t.grad for t in inputs if t is not None)])
    assert len(calls) == 1 and results[0][0].is_contiguous(memory_format=CL)
    for kernel, reference in zip(*results, strict=True):
        torch.testing.assert_close(kernel, reference, rtol=1e-5, atol=1e-5)


#: The channel counts that se_tail.c compiles a copy of its passes for (its FOR_CHANNELS).
SPECIALISED_CHANNELS = [int(c) for c in re.findall(r"case (\d+): pass", cpu_kernel.SOURCE.read_text())]


def test_the_kernel_source_names_its_specialised_channel_counts():
    assert SPECIALISED_CHANNELS == [16, 32, 64, 128, 256]


@needs_kernel
@pytest.mark.parametrize("channels", [*SPECIALISED_CHANNELS, 24])
def test_every_compiled_copy_equals_the_pytorch_operations(channels):
    """Each channel count with its own copy in se_tail.c is code of its own: each is checked (24 takes the general one)."""
    results = []
    for use_kernel in (True, False):
        inputs = [t.requires_grad_() for t in tail_inputs((6, channels, 5, 3), 4, torch.float32, bias=True)]
        with contextlib.nullcontext() if use_kernel else cpu_kernel.disabled():
            out = SEResidual.apply(*inputs)
        out.backward(
            torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=CL)
        )
        results.append([out, *(t.grad for t in inputs)])
    for kernel, reference in zip(*results, strict=True):
        torch.testing.assert_close(kernel, reference, rtol=1e-5, atol=1e-5)


@needs_kernel
def test_kernel_gives_the_same_bits_with_one_thread_or_two():
    se = SEBlock(32, bias=True)
    x, shortcut = (torch.randn(16, 32, 7, 7).contiguous(memory_format=CL).requires_grad_() for _ in range(2))
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            out = se_residual_cpu(se, x, shortcut)
            grads = torch.autograd.grad(out.square().sum(), [x, shortcut, *se.parameters()])
            results.append([out, *grads])
    finally:
        torch.set_num_threads(threads)
    for one, two in zip(*results, strict=True):
        assert torch.equal(one, two)


@needs_kernel
def test_a_fused_se_resnet_trains_through_the_kernel_like_the_readable_one(monkeypatch):
    calls = counted_kernel_calls(monkeypatch)
    readable = cifar_resnet(8, in_channels=1, attention="se", seed=0).to(memory_format=CL)
    fused = fuse_se(copy.deepcopy(readable))
    images = torch.randn(8, 1, 16, 16).contiguous(memory_format=CL)
    for model in (readable, fused):
        model(images).logsumexp(1).sum().backward()
    assert len(calls) == 3  # one call per residual block
    for (name, p), q in zip(readable.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)


@needs_kernel
def test_loading_the_kernel_keeps_one_openmp_runtime_and_denormals():
    assert cpu_kernel.library(torch.float32) is not None
    assert cpu_kernel._foreign_openmp() is None
    tiny = torch.tensor([1e-39])  # a float32 denormal; a library built with -ffast-math would flush it
    assert (tiny * 1.0).item() > 0


def test_other_layouts_and_dtypes_take_the_pytorch_operations(monkeypatch):
    calls = counted_kernel_calls(monkeypatch)
    x, shortcut, w1, _, w2, _ = tail_inputs((2, 6, 3, 3), 3, torch.float32, bias=False)
    SEResidual.apply(x.contiguous(), shortcut.contiguous(), w1, None, w2, None)  # NCHW, C > 1
    SEResidual.apply(x.to(torch.bfloat16), shortcut.to(torch.bfloat16), w1, None, w2, None)
    assert not calls
    assert cpu_kernel.unavailable(torch.bfloat16).startswith("the kernels are built for float32 and float64")


def test_without_a_compiler_the_tail_still_runs_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("SE_TUTORIAL_CACHE", str(tmp_path))  # nothing built there yet
    monkeypatch.setattr(cpu_kernel, "_libraries", {})
    monkeypatch.setattr(cpu_kernel, "_problems", {})
    assert cpu_kernel.library(torch.float32) is None
    assert "no C compiler ('no-such-compiler' is not on PATH)" in cpu_kernel.unavailable(torch.float32)
    inputs = tail_inputs((2, 4, 3, 3), 2, torch.float32, bias=False)
    out = SEResidual.apply(*inputs)
    expected = torch.relu(inputs[0] * torch.sigmoid(
        torch.relu(inputs[0].mean((2, 3)) @ inputs[2].t()) @ inputs[4].t())[:, :, None, None] + inputs[1])  # fmt: skip
    torch.testing.assert_close(out, expected)


@needs_kernel
def test_a_build_lands_whole_and_is_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("SE_TUTORIAL_CACHE", str(tmp_path))
    first = cpu_kernel._build(torch.float32)
    assert [path.name for path in (tmp_path / "kernels").iterdir()] == [first.name]  # no partial file left
    real_run = cpu_kernel.subprocess.run

    def version_only(command, **kwargs):
        assert command[1:] == ["--version"], f"compiled again: {command}"
        return real_run(command, **kwargs)

    monkeypatch.setattr(cpu_kernel.subprocess, "run", version_only)
    assert cpu_kernel._build(torch.float32) == first


@needs_kernel
def test_a_fused_network_counts_the_flops_of_its_readable_twin(monkeypatch):
    """The kernel's products happen in C, where torch's FLOP counter cannot see them; count_flops still counts them."""
    from se_tutorial import count_flops

    calls = counted_kernel_calls(monkeypatch)
    readable = cifar_resnet(8, in_channels=1, attention="se", seed=0).to(memory_format=CL)
    fused = fuse_se(copy.deepcopy(readable))
    plain = cifar_resnet(8, in_channels=1, seed=0).to(memory_format=CL)
    flops = [count_flops(model, (1, 1, 28, 28)) for model in (readable, fused, plain)]
    assert flops[0] == flops[1] > flops[2] and not calls  # counted as PyTorch operations
    fused(torch.randn(1, 1, 28, 28).contiguous(memory_format=CL))
    assert calls  # outside count_flops the kernel runs again
