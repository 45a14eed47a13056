"""ModelSpec: one description of a network, one default per field, checked when made, written to rows."""

import dataclasses
import inspect
import json

import pytest
import torch

from se_tutorial import ModelSpec, SEBlock, attention_layer, cifar_resnet, resnet50
from se_tutorial.nn import ResidualBlock
from se_tutorial.training import BUDGETS
from se_tutorial.utils.errors import ConfigurationError


def test_the_builders_take_their_defaults_from_the_spec():
    built = cifar_resnet(8)
    spec = ModelSpec(depth=8)
    gammas = [m.last_bn.weight for m in built.modules() if isinstance(m, ResidualBlock)]
    assert built.zero_init_residual is spec.zero_init_residual is False
    assert all(bool((g == 1).all()) for g in gammas)  # standard init: every BN's gamma is 1
    zeroed = cifar_resnet(8, zero_init_residual=True)
    assert all(bool((m.last_bn.weight == 0).all()) for m in zeroed.modules() if isinstance(m, ResidualBlock))
    assert not any(isinstance(m, SEBlock) for m in built.modules())
    # resnet50 and cifar_resnet declare no defaults of their own for the spec's fields.
    for builder in (cifar_resnet, resnet50):
        own = set(inspect.signature(builder).parameters)
        shared = own & {f.name for f in dataclasses.fields(ModelSpec)} - {"depth"}
        assert not shared, f"{builder.__name__} redeclares {shared}"


def test_a_spec_builds_the_network_it_describes():
    spec = ModelSpec(depth=14, width=2, attention="se", attention_options={"reduction_ratio": 4}, seed=1)
    model, again = spec.build(in_channels=1, num_classes=7), spec.build(in_channels=1, num_classes=7)
    first, second = model.state_dict(), again.state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)  # a seed makes builds repeat
    blocks = [m for m in model.modules() if isinstance(m, SEBlock)]
    assert len(blocks) == 6 and {b.reduction_ratio for b in blocks} == {4}
    assert model.conv1.out_channels == 32 and model(torch.zeros(2, 1, 28, 28)).shape == (2, 7)


def test_a_row_records_every_field_and_reads_back_the_same_spec():
    spec = ModelSpec(
        depth=20, attention="se", attention_options={"gate": "tanh"}, placement="post",
        attention_stages=[2, 3], zero_init_residual=False, seed=5,
    )  # fmt: skip
    row = json.loads(json.dumps(spec.to_row()))
    assert set(row) == {f.name for f in dataclasses.fields(ModelSpec)}
    assert row["attention_stages"] == [2, 3] and spec.attention_stages == (2, 3)
    assert ModelSpec.from_row({**row, "test_accuracy": 0.9}) == spec
    # rows written before the spec recorded the plain network's attention as "none"
    assert ModelSpec.from_row({"depth": 8, "attention": "none"}).attention is None


def test_a_spec_is_frozen_and_replace_names_unknown_fields():
    spec = ModelSpec(depth=8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.depth = 20
    assert spec.replace(attention="se").attention == "se" and spec.attention is None
    with pytest.raises(TypeError, match="ModelSpec has no field colour; its fields are depth, width"):
        spec.replace(colour="red")
    options = {"gate": "tanh"}
    made = ModelSpec(depth=8, attention="se", attention_options=options)
    options["gate"] = "relu"  # the caller's dict stays the caller's
    assert made.attention_options == {"gate": "tanh"}


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"depth": 9}, ConfigurationError, "depth must be 6n \\+ 2"),
        ({"depth": 8, "width": 0}, ConfigurationError, "width must be a positive integer"),
        (
            {"depth": 8, "attention": "nl"},
            ConfigurationError,
            "unknown attention 'nl'; choose one of 'se', 'ese'",
        ),
        ({"depth": 8, "attention": 16}, TypeError, "attention must be None, a name"),
        ({"depth": 8, "attention_options": {"gate": "tanh"}}, ConfigurationError, "attention is None"),
        ({"depth": 8, "attention": "se", "attention_options": {"colour": 1}}, TypeError, "does not accept"),
        ({"depth": 8, "placement": "sideways"}, ConfigurationError, "unknown placement 'sideways'"),
        ({"depth": 8, "zero_init_residual": 1}, TypeError, "zero_init_residual must be True or False"),
        ({"depth": 8, "seed": -1}, ConfigurationError, "seed must be a whole number from 0"),
        ({"depth": 8, "attention_stages": [0]}, ConfigurationError, "attention_stages must be a positive"),
    ],
)
def test_a_bad_field_is_named_when_the_spec_is_made(fields, error, message):
    with pytest.raises(error, match=message):
        ModelSpec(**fields)


def test_a_factory_of_ones_own_builds_but_cannot_be_written_to_a_row():
    factory = attention_layer("se", reduction_ratio=4)
    spec = ModelSpec(depth=8, attention=factory)
    assert any(isinstance(m, SEBlock) for m in spec.build().modules())
    with pytest.raises(TypeError, match="records the attention module by name"):
        spec.to_row()
    with pytest.raises(ValueError, match="give a factory its options"):
        ModelSpec(depth=8, attention=factory, attention_options={"gate": "tanh"})


def test_resnet50_keeps_its_own_depth_and_width():
    with pytest.raises(TypeError, match="resnet50 has a fixed depth"):
        resnet50(depth=20)


@pytest.mark.parametrize("budget", BUDGETS.values(), ids=lambda b: b.name)
def test_a_budget_fills_in_its_network_and_nothing_else(budget):
    spec = budget.model(attention="se", seed=3)
    assert spec == ModelSpec(
        depth=budget.depth, width=budget.width, stem_stride=budget.stem_stride, attention="se", seed=3
    )
    assert budget.model(depth=14).depth == 14  # a run may still ask for another depth
