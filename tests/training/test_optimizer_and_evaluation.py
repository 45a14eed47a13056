"""Training maths against hand computations: evaluation metrics and the optimizer as applied.

Every expected number here is computed without the package's code: cross-entropy
with ``math.log``/``math.exp``, the learning-rate schedule from the words of
``make_optimizer``'s docstring, and the SGD update from the Nesterov formula.
"""

import math
from collections import Counter

import pytest
import torch
from fixtures import tiny_model
from torch import nn

from se_tutorial.data import DeviceLoader
from se_tutorial.training import (
    TrainConfig,
    choose_precision,
    confusion_matrix,
    evaluate,
    learning_rates,
    make_optimizer,
    predict,
)

# --- evaluation -------------------------------------------------------------

# Seven 1x2x3 "images" (uint8, as the loader receives them) and their labels; with
# a batch size of 3 the loader yields batches of 3, 3 and a partial one of 1.
PIXELS = [
    [[10, 200, 30], [40, 50, 60]],
    [[255, 0, 0], [0, 0, 255]],
    [[0, 10, 20], [30, 40, 50]],
    [[90, 80, 70], [60, 50, 40]],
    [[5, 250, 5], [250, 5, 250]],
    [[128, 128, 128], [0, 0, 0]],
    [[0, 0, 0], [128, 64, 255]],
]
LABELS = [0, 1, 2, 2, 1, 0, 2]
#: The hand computations are in float32 (a CPU with bfloat16 instructions would evaluate in bfloat16).
FLOAT32 = choose_precision("cpu", "float32")
MEAN, STD = 0.25, 0.5
# A linear classifier on the six pixels (row-major), three classes; mirror-asymmetric on purpose.
WEIGHT = [
    [1.0, -2.0, 0.5, 0.0, 1.5, -1.0],
    [-0.5, 1.0, 2.0, -1.5, 0.0, 0.5],
    [0.25, 0.5, -1.0, 2.0, -0.5, 1.0],
]
BIAS = [0.1, -0.2, 0.05]


def fixed_model() -> nn.Module:
    """The linear classifier above, behind a dropout that only eval mode switches off."""
    linear = nn.Linear(6, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(WEIGHT))
        linear.bias.copy_(torch.tensor(BIAS))
    return nn.Sequential(nn.Dropout(0.5), nn.Flatten(), linear)


def fixed_loader() -> DeviceLoader:
    images = torch.tensor(PIXELS, dtype=torch.uint8)[:, None]  # (7, 1, 2, 3)
    return DeviceLoader(images, torch.tensor(LABELS), batch_size=3, mean=(MEAN,), std=(STD,))


def hand_logits(image: list[list[int]], mirrored: bool = False) -> list[float]:
    """W x + b in plain Python, on the image normalised as (pixel / 255 - mean) / std."""
    rows = [row[::-1] if mirrored else row for row in image]
    x = [(pixel / 255 - MEAN) / STD for row in rows for pixel in row]
    return [
        sum(w * v for w, v in zip(weights, x, strict=True)) + b
        for weights, b in zip(WEIGHT, BIAS, strict=True)
    ]


def hand_predictions(tta: bool) -> list[list[float]]:
    if not tta:
        return [hand_logits(image) for image in PIXELS]
    return [
        [(a + b) / 2 for a, b in zip(hand_logits(image), hand_logits(image, mirrored=True), strict=True)]
        for image in PIXELS
    ]


def cross_entropy(logits: list[float], label: int) -> float:
    """-log softmax(logits)[label], with a stable log-sum-exp."""
    top = max(logits)
    return top + math.log(sum(math.exp(v - top) for v in logits)) - logits[label]


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def test_the_fixture_is_not_degenerate():
    """The checks below only discriminate if mirroring changes some predictions and accuracy is partial."""
    plain, mirrored = hand_predictions(False), hand_predictions(True)
    assert [argmax(p) for p in plain] != [argmax(p) for p in mirrored]
    assert 0 < sum(argmax(p) == y for p, y in zip(plain, LABELS, strict=True)) < len(LABELS)
    assert len(fixed_loader()) == 3 and len(LABELS) % 3 == 1  # a last, partial batch


@pytest.mark.parametrize("tta", [False, True])
def test_evaluate_matches_a_hand_computed_loss_and_accuracy(tta):
    model = fixed_model().train()
    logits = hand_predictions(tta)
    # Mean over all seven examples (not a mean of per-batch means), no label smoothing.
    expected_loss = sum(cross_entropy(v, y) for v, y in zip(logits, LABELS, strict=True)) / len(LABELS)
    expected_accuracy = sum(argmax(v) == y for v, y in zip(logits, LABELS, strict=True)) / len(LABELS)

    loss, accuracy = evaluate(model, fixed_loader(), tta=tta, precision=FLOAT32)

    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert accuracy == pytest.approx(expected_accuracy, abs=1e-12)
    assert model.training  # evaluated in eval mode (the dropout is off) and left as it was


@pytest.mark.parametrize("tta", [False, True])
def test_predict_returns_every_example_in_order(tta):
    model = fixed_model().eval()
    logits, labels = predict(model, fixed_loader(), tta=tta, precision=FLOAT32)
    assert labels.tolist() == LABELS
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, torch.tensor(hand_predictions(tta)), rtol=1e-5, atol=1e-5)
    assert not model.training


@pytest.mark.parametrize("tta", [False, True])
def test_confusion_matrix_counts_by_hand(tta):
    pairs = Counter((y, argmax(v)) for v, y in zip(hand_predictions(tta), LABELS, strict=True))
    expected = [[pairs[(true, predicted)] for predicted in range(4)] for true in range(4)]

    counts = confusion_matrix(fixed_model(), fixed_loader(), num_classes=4, tta=tta)

    assert counts.dtype == torch.int64
    assert counts.tolist() == expected  # row = true class, column = predicted; class 3 never occurs


# --- the optimizer and its schedule, as applied -----------------------------


def toy_model() -> nn.Module:
    """Parameters of every kind: 4-d and 2-d weights, 1-d BN scales and biases, a linear bias."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))


def intended_lr(step: int, total: int, lr: float, warmup_steps: int) -> float:
    """The docstring's schedule: lr / 20 rising linearly to lr over the first ``warmup_steps``
    steps (the last of them at lr), then falling linearly to lr / 4000 at the last step."""
    start, end, peak = lr / 20, lr / 4000, warmup_steps - 1
    if step <= peak:
        return start + (lr - start) * step / peak
    return lr + (end - lr) * (step - peak) / (total - 1 - peak)


def applied_schedule(config: TrainConfig, total: int) -> list[list[tuple[float, float, bool]]]:
    """(lr, momentum, nesterov) of every parameter group at each of ``total`` optimizer steps."""
    optimizer, scheduler = make_optimizer(toy_model(), config, total)
    seen = []
    for _ in range(total):
        seen.append([(g["lr"], g["momentum"], g["nesterov"]) for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return seen


@pytest.mark.parametrize(
    ("total", "lr", "warmup", "warmup_steps"),
    [
        (100, 0.4, 0.25, 25),
        (48, 0.1, 0.5, 24),
        (40, 0.4, 0.01, 2),  # fewer than two warm-up steps are raised to two
    ],
)
def test_learning_rate_of_every_step_follows_the_one_cycle_schedule(total, lr, warmup, warmup_steps):
    seen = applied_schedule(TrainConfig(lr=lr, warmup=warmup), total)
    expected = [intended_lr(step, total, lr, warmup_steps) for step in range(total)]
    for groups in seen:
        assert len({rate for rate, _, _ in groups}) == 1  # both groups share one rate
    assert [groups[0][0] for groups in seen] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert learning_rates(TrainConfig(lr=lr, warmup=warmup), total) == pytest.approx(
        expected, rel=1e-9, abs=1e-12
    )
    assert seen[0][0][0] == pytest.approx(lr / 20)
    assert seen[warmup_steps - 1][0][0] == pytest.approx(lr)
    assert seen[-1][0][0] == pytest.approx(lr / 4000)


@pytest.mark.parametrize("momentum", [0.9, 0.8])
def test_momentum_and_nesterov_stay_as_configured_at_every_step(momentum):
    # OneCycleLR cycles momentum between 0.85 and 0.95 unless told not to, which overrode the config.
    seen = applied_schedule(TrainConfig(momentum=momentum), 60)
    assert {(m, nesterov) for groups in seen for _, m, nesterov in groups} == {(momentum, True)}


def test_weight_decay_applies_to_weight_matrices_and_kernels_only():
    model = toy_model()
    optimizer, _ = make_optimizer(model, TrainConfig(weight_decay=3e-4), 10)
    decay_of = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    expected = {"0.weight": 3e-4, "1.weight": 0.0, "1.bias": 0.0, "3.weight": 3e-4, "3.bias": 0.0}
    assert {name: decay_of[id(p)] for name, p in model.named_parameters()} == expected


def test_sgd_steps_equal_a_hand_computed_nesterov_update_with_weight_decay():
    total, lr, mu, wd = 20, 0.4, 0.9, 0.01
    config = TrainConfig(lr=lr, momentum=mu, weight_decay=wd, warmup=0.25)
    matrix = nn.Parameter(torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64))
    vector = nn.Parameter(torch.tensor([2.0, -1.0], dtype=torch.float64))
    model = nn.Module()
    model.matrix, model.vector = matrix, vector
    optimizer, scheduler = make_optimizer(model, config, total)

    # Hand state: plain Python floats, flattened.
    values = {"matrix": [1.0, -2.0, 0.5, 3.0], "vector": [2.0, -1.0]}
    decay = {"matrix": wd, "vector": 0.0}
    buffers: dict[str, list[float]] = {}
    for step in range(4):
        # loss = sum(c * p**2) has gradient 2 c p; c differs per step so that momentum matters.
        c = [1.0, 0.5, -0.25, 2.0][step]
        loss = c * (matrix**2).sum() + c * (vector**2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()

        rate = intended_lr(step, total, lr, warmup_steps=5)
        for name, current in values.items():
            d = [2 * c * p + decay[name] * p for p in current]  # gradient plus weight decay
            if name in buffers:
                buffers[name] = [mu * b + g for b, g in zip(buffers[name], d, strict=True)]
            else:
                buffers[name] = list(d)  # the first step initialises the buffer
            update = [g + mu * b for g, b in zip(d, buffers[name], strict=True)]  # Nesterov look-ahead
            values[name] = [p - rate * u for p, u in zip(current, update, strict=True)]
        assert matrix.detach().flatten().tolist() == pytest.approx(values["matrix"], rel=1e-12)
        assert vector.detach().tolist() == pytest.approx(values["vector"], rel=1e-12)


def test_flip_test_time_augmentation_averages_the_mirrored_prediction(tiny_data):
    from se_tutorial.training import predict

    model = tiny_model().eval()
    plain, labels = predict(model, tiny_data.test, precision=FLOAT32)
    averaged, _ = predict(model, tiny_data.test, tta=True, precision=FLOAT32)
    with torch.no_grad():
        mirrored = torch.cat([model(images.flip(3)) for images, _ in tiny_data.test])
    torch.testing.assert_close(averaged, (plain + mirrored) / 2)
    assert labels.shape == (256,) and not torch.allclose(plain, averaged)
