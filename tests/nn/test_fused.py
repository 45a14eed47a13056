"""The fused SE path equals the readable one: operators, gradients, blocks, whole networks.

Every ``test_op_*`` and ``test_fused_*`` test runs twice: here through the
operators' PyTorch reference (Triton's kernels need a GPU), and once more in a
subprocess with ``TRITON_INTERPRET=1``, where the same tests drive the Triton
kernels themselves on CPU tensors through Triton's interpreter
(:func:`test_triton_kernels_pass_the_same_tests_under_the_interpreter`).
No test needs a GPU, and none times anything.
"""

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from se_tutorial import SEBlock, capture_excitations, cifar_resnet, se_resnet50
from se_tutorial.nn.fused import (
    FusedSETail,
    fuse_se,
    fusion_mode,
    interpreted,
    scale_add_relu,
    se_residual,
    squeeze,
    triton_available,
    use_fused,
)
from se_tutorial.nn.fused.cpu import SEResidual, se_residual_cpu
from se_tutorial.nn.fused.cpu import supported as cpu_supported

ROOT = Path(__file__).resolve().parents[2]

# (N, C, H, W): odd channel counts, H = W = 1, an empty batch, C = 1, more channels than one
# channel tile (128), and H*W larger than one spatial tile (1024) but no multiple of it, which
# also splits the reductions over H*W.
SHAPES = [(2, 17, 13, 13), (3, 3, 1, 1), (0, 5, 4, 4), (2, 1, 5, 7), (2, 130, 7, 7), (1, 8, 33, 35)]
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]
LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
EPS = {torch.float64: 1e-15, torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}


def inputs(shape, dtype, layout="contiguous", seed=0):
    """x, s, shortcut and an output gradient, with x * s + shortcut kept away from ReLU's kink.

    Near zero the two paths may round a pre-activation to opposite signs and so
    disagree on the ReLU's gradient (0 or 1), which no tolerance covers.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    s = torch.rand(shape[:2], generator=generator, dtype=torch.float64)
    shortcut = torch.randn(shape, generator=generator, dtype=torch.float64)
    pre = x * s[:, :, None, None] + shortcut
    shortcut = shortcut + torch.where(pre.abs() < 0.1, 0.25 * torch.sign(pre) + 0.25 * (pre == 0), 0.0)
    grad = torch.randn(shape, generator=generator, dtype=torch.float64)
    memory_format = LAYOUTS[layout]
    x, shortcut, grad = (t.to(dtype).contiguous(memory_format=memory_format) for t in (x, shortcut, grad))
    return x, s.to(dtype), shortcut, grad


def readable(x, s, shortcut):
    """The book's computation: the squeeze of global_average_pool, then scale, add and ReLU."""
    z = x.sum(dim=(2, 3), dtype=torch.promote_types(x.dtype, torch.float32)) / (x.shape[2] * x.shape[3])
    return z, torch.relu(x * s[:, :, None, None] + shortcut)


def gradients(function, x, s, shortcut, grad):
    x, s, shortcut = (t.detach().requires_grad_() for t in (x, s, shortcut))
    z, out = function(x, s, shortcut)
    # The squeeze's gradient reaches x too, as in a block; weight it so that it is not lost in rounding.
    weights = torch.linspace(1, 2, z.shape[1], device=z.device)
    loss = (out.float() * grad.float()).sum() + (z * weights).sum()
    return (z, out, *torch.autograd.grad(loss, (x, s, shortcut)))


def assert_close(actual, expected, dtype, terms=1):
    """Within a few roundings of ``dtype``; ``terms`` values summed widen the tolerance as sqrt(terms)."""
    tolerance = 4 * EPS[dtype] * max(terms, 1) ** 0.5
    torch.testing.assert_close(actual.double(), expected.double(), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_op_forward_and_backward_equal_the_readable_computation(shape, dtype, layout, device="cpu"):
    x, s, shortcut, grad = (t.to(device) for t in inputs(shape, dtype, layout))
    fused = gradients(lambda *a: (squeeze(a[0]), scale_add_relu(*a)), x, s, shortcut, grad)
    reference = gradients(readable, x, s, shortcut, grad)
    hw = shape[2] * shape[3]
    names = ["squeeze", "out", "grad_x", "grad_s", "grad_shortcut"]
    for name, actual, expected in zip(names, fused, reference, strict=True):
        assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
        assert_close(actual, expected, dtype, terms=hw if name == "grad_s" else 1)
    out, grad_x, grad_shortcut = fused[1], fused[2], fused[4]
    for tensor in (out, grad_x, grad_shortcut):  # the layout of x is kept
        assert tensor.is_contiguous(memory_format=LAYOUTS[layout])
    assert fused[0].dtype == torch.promote_types(dtype, torch.float32)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_op_gradients_pass_float64_gradcheck(layout):
    x, s, shortcut, _ = inputs((2, 5, 3, 3), torch.float64, layout, seed=1)
    x, s, shortcut = (t.requires_grad_() for t in (x, s, shortcut))
    assert torch.autograd.gradcheck(scale_add_relu, (x, s, shortcut), fast_mode=True)
    assert torch.autograd.gradcheck(squeeze, (x,), fast_mode=True)


def test_op_mixed_dtypes_layouts_and_strided_inputs():
    x, s, shortcut, _ = inputs((2, 6, 5, 5), torch.bfloat16, "channels_last")
    # s in float32 and a contiguous shortcut: promoted as x * s + shortcut would be, in x's layout.
    out = scale_add_relu(x, s.float(), shortcut.contiguous())
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    assert_close(out, readable(x, s.float(), shortcut)[1], torch.bfloat16)
    # A strided view (every other column) is neither layout: computed from a dense copy.
    wide, s, shortcut, _ = inputs((2, 6, 5, 10), torch.float32)
    x, shortcut = wide[..., ::2], shortcut[..., ::2]
    assert_close(scale_add_relu(x, s, shortcut), readable(x, s, shortcut)[1], torch.float32)
    assert_close(squeeze(x), readable(x, s, shortcut)[0], torch.float32)


def test_op_propagates_nan_like_relu():
    x, s, shortcut, _ = inputs((1, 3, 4, 4), torch.float32)
    x[0, 1, 2, 2] = float("nan")
    out = scale_add_relu(x, s, shortcut)
    assert out[0, 1, 2, 2].isnan() and out.isnan().sum() == 1
    assert squeeze(x)[0, 1].isnan()


def test_op_reports_mismatched_shapes():
    x = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"s of shape \(N, C\) = \(2, 3\)"):
        scale_add_relu(x, torch.zeros(2, 4), x)
    with pytest.raises(ValueError, match="feature map"):
        squeeze(torch.zeros(2, 3))


def test_ops_pass_torch_library_opcheck():
    """Schema, autograd registration and fake (meta) implementations: what torch.compile relies on."""
    from se_tutorial.nn.fused.ops import _scale_add_relu, _scale_add_relu_backward

    x, s, shortcut, grad = inputs((2, 3, 4, 4), torch.float32, "channels_last")
    out = scale_add_relu(x, s, shortcut)
    checks = ("test_schema", "test_autograd_registration", "test_faketensor")
    torch.library.opcheck(squeeze, (x.requires_grad_(),), test_utils=checks)
    torch.library.opcheck(_scale_add_relu, (x, s.requires_grad_(), shortcut), test_utils=checks)
    torch.library.opcheck(_scale_add_relu_backward, (grad, out, x.detach(), s.detach()), test_utils=checks)


needs_gpu = pytest.mark.skipif(
    not (torch.cuda.is_available() and triton_available()), reason="needs a CUDA GPU and Triton"
)


@needs_gpu
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [*SHAPES, (8, 256, 56, 56), (4, 2048, 7, 7), (2, 64, 224, 224)], ids=str)
def test_gpu_kernels_equal_the_readable_computation(shape, dtype, layout):
    """On a GPU the compiled kernels, not the interpreter, face the same comparison."""
    test_op_forward_and_backward_equal_the_readable_computation(shape, dtype, layout, device="cuda")


@needs_gpu
def test_gpu_fused_network_trains_like_the_readable_one():
    torch.manual_seed(0)
    readable_model = cifar_resnet(8, in_channels=1, width=2, attention="se", seed=0).cuda()
    fused_model = fuse_se(copy.deepcopy(readable_model))  # "auto": fused on CUDA
    images = torch.randn(16, 1, 28, 28, device="cuda").contiguous(memory_format=torch.channels_last)
    for model in (readable_model, fused_model):
        model.to(memory_format=torch.channels_last)
    logits, grads = train_step(readable_model, images)
    fused_logits, fused_grads = train_step(fused_model, images)
    torch.testing.assert_close(fused_logits, logits, rtol=1e-3, atol=1e-3)
    for name, grad in grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-3, atol=1e-3, msg=name)


# --- blocks and networks ---------------------------------------------------------------------


def train_step(model, images):
    model.zero_grad(set_to_none=True)
    logits = model(images)
    logits.square().mean().backward()
    return logits.detach(), {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fused_network_equals_the_readable_one(layout):
    torch.manual_seed(0)
    readable_model = cifar_resnet(8, in_channels=1, attention="se", seed=0)
    fused_model = fuse_se(copy.deepcopy(readable_model), mode=True)
    images = torch.randn(3, 1, 12, 12).contiguous(memory_format=LAYOUTS[layout])
    for model in (readable_model, fused_model):
        model.to(memory_format=LAYOUTS[layout])
    logits, grads = train_step(readable_model, images)
    fused_logits, fused_grads = train_step(fused_model, images)
    torch.testing.assert_close(fused_logits, logits, rtol=1e-5, atol=1e-5)
    assert fused_grads.keys() == grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_fused_bottleneck_network_keeps_names_excitations_and_checkpoints():
    torch.manual_seed(0)
    model = se_resnet50(num_classes=4, seed=0).eval()
    state = model.state_dict()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad(), capture_excitations(model) as readable_excitations:
        expected = model(images)
    fuse_se(model, mode=True)
    blocks = [m for m in model.modules() if isinstance(m, SEBlock)]
    assert len(blocks) == 16 and all(fusion_mode(m) is True for m in model.modules() if hasattr(m, "branch"))
    assert list(model.state_dict()) == list(state)
    model.load_state_dict(state)  # a readable model's checkpoint loads as it is
    with torch.no_grad(), capture_excitations(model) as fused_excitations:
        torch.testing.assert_close(model(images), expected, rtol=1e-4, atol=1e-5)
    assert fused_excitations.keys() == readable_excitations.keys()
    for name, s in readable_excitations.items():
        torch.testing.assert_close(fused_excitations[name], s, rtol=1e-5, atol=1e-6)


def test_fusing_replaces_one_hook_switches_back_pickles_and_leaves_other_blocks_alone():
    model = fuse_se(cifar_resnet(8, attention="se"), mode=True)
    block = model.layer2[0]
    assert type(block).__name__ == "BasicResNetBlock"  # the class is untouched: only its join hook
    assert isinstance(block.join, FusedSETail) and fusion_mode(block) is True
    restored = torch.load(io.BytesIO(_saved(model)), weights_only=False)  # whole-model pickling
    assert fusion_mode(restored.layer2[0]) is True and restored.layer2[0].join.block is restored.layer2[0]
    copied = copy.deepcopy(model).layer2[0]
    assert fusion_mode(copied) is True and copied.join.block is copied
    fuse_se(model, mode=False)
    assert fusion_mode(block) is False and "join" not in vars(block)
    plain = fuse_se(cifar_resnet(8))  # no SE: nothing to fuse
    pre = fuse_se(cifar_resnet(8, attention="se", placement="pre"))  # SE-PRE: not the fused tail
    assert not any(fusion_mode(m) for m in [*plain.modules(), *pre.modules()])
    with pytest.raises(ValueError, match="mode must be True, False or 'auto'"):
        fuse_se(model, mode="yes")


def _saved(model):
    buffer = io.BytesIO()
    torch.save(model, buffer)
    return buffer.getvalue()


def test_fused_auto_mode_takes_the_one_function_tail_on_cpu(monkeypatch):
    model = fuse_se(cifar_resnet(8, in_channels=1, attention="se"))  # mode "auto"
    monkeypatch.setattr(  # not the custom operators: those are for GPUs (and mode=True)
        "se_tutorial.nn.fused.fuse.se_residual", lambda *a, **k: pytest.fail("custom operators on a CPU")
    )
    calls = []
    monkeypatch.setattr(SEResidual, "apply", _counting(SEResidual.apply, calls))
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert len(calls) == 3  # one per block
    assert use_fused("auto", torch.zeros(1)) and use_fused(True, torch.zeros(1))
    assert not use_fused(False, torch.zeros(1))


def _counting(function, calls):
    def counted(*args):
        calls.append(args)
        return function(*args)

    return counted


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_cpu_tail_equals_the_readable_network_in_output_and_every_gradient(layout, bias):
    torch.manual_seed(0)
    spec = {"attention": "se", "attention_options": {"bias": bias}, "seed": 0}
    readable_model = cifar_resnet(8, in_channels=1, **spec).double()
    fused_model = fuse_se(copy.deepcopy(readable_model))  # "auto": the CPU function
    images = torch.randn(3, 1, 12, 12, dtype=torch.float64).contiguous(memory_format=LAYOUTS[layout])
    logits, grads = train_step(readable_model.to(memory_format=LAYOUTS[layout]), images)
    fused_logits, fused_grads = train_step(fused_model.to(memory_format=LAYOUTS[layout]), images)
    torch.testing.assert_close(fused_logits, logits, rtol=1e-12, atol=1e-12)
    assert fused_grads.keys() == grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-10, atol=1e-12, msg=name)


def test_cpu_tail_passes_gradcheck_and_keeps_bfloat16_maps_in_bfloat16():
    double = {"dtype": torch.float64, "requires_grad": True}
    x, shortcut = torch.randn(2, 6, 3, 3, **double), torch.randn(2, 6, 3, 3, **double)
    w1, b1, w2, b2 = torch.randn(3, 6, **double), torch.randn(3, **double), torch.randn(6, 3, **double), None
    assert torch.autograd.gradcheck(SEResidual.apply, (x, shortcut, w1, b1, w2, b2))
    se = SEBlock(16)
    x = torch.randn(4, 16, 5, 5).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = se_residual_cpu(se, x.requires_grad_(), torch.zeros_like(x))
        expected = torch.relu(se(x.detach().float()))  # the excitation in float32 either way
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out.float(), expected, rtol=2e-2, atol=2e-2)
    out.float().sum().backward()
    assert x.grad.dtype == torch.bfloat16 and se.fc1.weight.grad.dtype == torch.float32


def test_cpu_tail_leaves_other_se_blocks_and_hooked_ones_to_the_readable_path(monkeypatch):
    monkeypatch.setattr(SEResidual, "apply", lambda *a: pytest.fail("not the paper's SE, or hooked"))
    images = torch.randn(2, 1, 8, 8)
    for options in ({"squeeze": "max"}, {"gate": "tanh"}):
        model = fuse_se(cifar_resnet(8, in_channels=1, attention="se", attention_options=options))
        model(images)
    model = fuse_se(cifar_resnet(8, in_channels=1, attention="se", seed=0)).eval()
    with torch.no_grad(), capture_excitations(model) as excitations:  # a hook on each gate
        model(images)
    assert len(excitations) == 3 and cpu_supported(model.layer1[0].attention)  # hooks gone again


def test_fused_se_residual_matches_its_readable_form():
    se = SEBlock(24, reduction_ratio=4)
    x, _, shortcut, _ = inputs((2, 24, 6, 6), torch.float32, "channels_last")
    with torch.no_grad():
        torch.testing.assert_close(
            se_residual(se, x, shortcut), se_residual(se, x, shortcut, fused=False), rtol=1e-5, atol=1e-6
        )
    max_se = SEBlock(24, reduction_ratio=4, squeeze="max")  # the fused scale with the readable squeeze
    with torch.no_grad():
        torch.testing.assert_close(
            se_residual(max_se, x, shortcut), se_residual(max_se, x, shortcut, fused=False)
        )


# --- the kernels themselves, under Triton's interpreter ------------------------------------


@pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
@pytest.mark.slow
def test_triton_kernels_pass_the_same_tests_under_the_interpreter(tmp_path):
    if interpreted():
        pytest.skip("this process already runs the kernels under the interpreter")
    env = {
        **os.environ,
        "TRITON_INTERPRET": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable, "-m", "pytest", str(Path(__file__)), "-q", "-p", "no:cacheprovider",
        "-k", "not under_the_interpreter and not bottleneck and not compile and not benchmark and not gpu",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary


def test_the_kernels_run_where_they_should():
    if os.environ.get("TRITON_INTERPRET") == "1" and triton_available():
        assert interpreted()  # else the subprocess above would test the reference twice
    else:
        assert not interpreted()


@pytest.mark.slow
def test_compiled_fused_network_traces_into_one_graph_and_trains_alike():
    """torch.compile sees the operators through their fake implementations: no graph breaks."""
    torch.manual_seed(0)
    model = fuse_se(cifar_resnet(8, in_channels=1, attention="se", seed=0), mode=True)
    images = torch.randn(4, 1, 12, 12).contiguous(memory_format=torch.channels_last)
    explanation = torch._dynamo.explain(model)(images)
    assert explanation.graph_count == 1 and explanation.graph_break_count == 0
    ops = {str(node.target) for node in explanation.graphs[0].graph.nodes}
    assert {"se_tutorial.squeeze.default", "se_tutorial.scale_add_relu.default"} <= ops
    logits, grads = train_step(model, images)
    compiled_logits, _ = train_step(torch.compile(model, backend="aot_eager"), images)
    compiled_grads = {name: p.grad for name, p in model.named_parameters()}
    torch.testing.assert_close(compiled_logits, logits)
    for name, grad in grads.items():
        torch.testing.assert_close(compiled_grads[name], grad, msg=name)


@pytest.mark.slow
def test_gpu_cost_benchmark_smoke_run_writes_its_results(tmp_path):
    """benchmarks/se_gpu_cost.py --smoke: the GPU session's script, its code paths on a CPU."""
    out = tmp_path / "se_gpu_cost.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "se_gpu_cost.py"), "--smoke", "--out", str(out)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("TRITON_INTERPRET", None)
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    record = json.loads(out.read_text())
    for key in ("commit", "torch", "device", "date", "copy_bandwidth_GBps", "profile", "tail", "networks"):
        assert record[key], key
    assert set(record["profile"]["variants"]) == {"readable", "fused"}
    fused_ops = {row["op"] for row in record["profile"]["variants"]["fused"]["ops"]}
    assert {
        "se_tutorial::squeeze",
        "se_tutorial::scale_add_relu",
        "se_tutorial::scale_add_relu_backward",
    } <= fused_ops
    rows = {(row["suite"], row["variant"], row["mode"]): row for row in record["networks"]}
    assert rows["resnet50", "resnet50", "eager"]["ratio_to_baseline"] == 1.0
    assert ("resnet50", "se_resnet50 fused", "eager") in rows
    assert ("resnet20x4", "se_resnet20x4 fused", "compiled") in rows
    assert all(row["ms_per_step"] > 0 for row in rows.values())


@pytest.mark.slow
def test_a_saved_fused_model_loads_in_a_fresh_process(tmp_path):
    model = fuse_se(cifar_resnet(8, in_channels=1, attention="se", seed=0), mode=True).eval()
    torch.save(model, tmp_path / "fused.pt")
    images = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.save(model(images), tmp_path / "expected.pt")
    torch.save(images, tmp_path / "images.pt")
    script = (
        "import torch\n"
        "from se_tutorial.nn.fused import fusion_mode\n"
        "model = torch.load('fused.pt', weights_only=False)\n"
        "assert fusion_mode(model.layer1[0]) is True\n"
        "with torch.no_grad():\n"
        "    out = model(torch.load('images.pt'))\n"
        "torch.testing.assert_close(out, torch.load('expected.pt'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_fused_model_traces_with_fx_and_checks_its_input_dtype():
    model = fuse_se(cifar_resnet(8, in_channels=1, attention="se", seed=0), mode=True).eval()
    images = torch.randn(2, 1, 28, 28)
    traced = torch.fx.symbolic_trace(model)
    with torch.no_grad():
        torch.testing.assert_close(traced(images), model(images))
    with pytest.raises(TypeError, match=r"parameters are torch\.float32 but the input is torch\.float64"):
        model(images.double())
    double = fuse_se(cifar_resnet(8, in_channels=1, attention="se", seed=0).double(), mode=True).eval()
    with torch.no_grad():
        assert double(images.double()).dtype == torch.float64
