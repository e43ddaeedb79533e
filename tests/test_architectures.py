"""Architecture-based layer profiles against the papers' tables."""

from __future__ import annotations

import json

import pytest

from offloadlab.instances import architectures as arch
from offloadlab.instances.models import (
    ARCHITECTURE_MODELS, dag_defects, load_model, model_json)

# EosDNN Table V (AlexNet, 13 layers) and Table VI (VGG19, 24 layers), MiB
TABLE_V = [0.133300781, 0, 0, 2.344726563, 0, 0, 3.376464844, 5.063964844, 3.375976563, 0,
           144.015625, 64.015625, 15.6288147]
TABLE_VI = [0.006835938, 0.140869141, 0, 0.281738281, 0.562988281, 0, 1.125976563,
            2.250976563, 2.250976563, 2.250976563, 0, 4.501953125, 9.001953125,
            9.001953125, 9.001953125, 0, 9.001953125, 9.001953125, 9.001953125,
            9.001953125, 0, 392.015625, 64.015625, 15.6288147]
# EosDNN Table IV: params (M), GFLOPs (counted as G multiply-accumulates), size (MB)
TABLE_IV = {"alexnet": (62.1, 0.7, 237), "vgg19": (143.7, 19.6, 548),
            "googlenet": (7.1, 1.6, 27), "resnet101": (44.6, 7.6, 170)}


def test_table_v_alexnet_layer_sizes():
    sizes = [layer.param_mb for layer in arch.alexnet_net().layers]
    assert sizes == pytest.approx(TABLE_V, abs=1e-6)
    names = [layer.name for layer in arch.alexnet_net().layers]
    assert names[1] == "norm1" and names[4] == "norm2"


def test_table_vi_vgg19_layer_sizes():
    sizes = [layer.param_mb for layer in arch.vgg19_net().layers]
    assert sizes == pytest.approx(TABLE_VI, abs=1e-6)


def test_table_v_is_the_ungrouped_alexnet():
    grouped = {layer.name: layer.param_mb for layer in arch.alexnet_net(grouped=True).layers}
    assert grouped["conv2"] == pytest.approx(TABLE_V[3] / 2, abs=1e-3)


@pytest.mark.parametrize("model", sorted(TABLE_IV))
def test_table_iv_totals(model):
    params_m, gmacs, size_mb = TABLE_IV[model]
    net = arch.build(model)
    assert net.total_params / 1e6 == pytest.approx(params_m, rel=0.05)
    assert net.total_params * 4 / 2**20 == pytest.approx(size_mb, rel=0.05)
    # Table IV's 0.7 GFLOPs for AlexNet is the grouped network's work (see the module)
    work = arch.alexnet_net(grouped=True) if model == "alexnet" else net
    assert work.total_macs / 1e9 == pytest.approx(gmacs, rel=0.05)


def test_grouped_alexnet_also_meets_table_iv_sizes():
    net = arch.alexnet_net(grouped=True)
    assert net.total_params / 1e6 == pytest.approx(62.1, rel=0.05)
    assert net.total_params * 4 / 2**20 == pytest.approx(237, rel=0.05)


def test_resnet34_counts():
    net = arch.resnet34_net()
    assert net.total_params / 1e6 == pytest.approx(21.8, rel=0.01)
    assert net.total_macs / 1e9 == pytest.approx(3.6, rel=0.03)


def test_resnet34_roofline_matches_tmoa_numbering():
    rows = arch.resnet34_roofline()
    net = arch.resnet34_net()
    assert [r["name"] for r in rows] == [layer.name for layer in net.layers]
    assert sum(r["z"] for r in rows) == net.total_macs
    counted = [r for r in rows if r["paper_layer"] is not None]
    assert [r["paper_layer"] for r in counted] == list(range(1, 35))
    by_index = {r["paper_layer"]: r for r in counted}
    # TMOA Table 1: layers 7, 13, 20 are 3x3 convolutions with 64, 128, 256 channels
    for index, channels in ((7, 64), (13, 128), (20, 256)):
        layer = next(x for x in net.layers if x.name == by_index[index]["name"])
        assert layer.kernel == 3 and layer.out_shape[0] == channels
    conv1 = by_index[1]
    assert conv1["z"] == 112**2 * 7**2 * 3 * 64
    assert conv1["par"] == 7**2 * 3 * 64 and conv1["map"] == 112**2 * 64


@pytest.mark.parametrize("model,params_m,layers", [
    ("resnet34", 21.8, 39), ("resnet32", 0.46, 33), ("nin", 0.97, 12), ("vgg16", 15.2, 21)])
def test_architecture_models(model, params_m, layers):
    net = arch.build(model)
    assert net.total_params / 1e6 == pytest.approx(params_m, rel=0.02)
    entry = arch.model_from_architecture(model)
    assert len(entry["layers"]) == layers
    assert dag_defects(entry) == []
    total_flops = sum(layer.flops for layer in net.layers)
    assert sum(layer["gcycles"] for layer in entry["layers"]) == pytest.approx(total_flops / 1e9)
    assert sum(layer["param_mb"] for layer in entry["layers"]) == pytest.approx(
        net.total_params * 4 / 2**20)


@pytest.mark.parametrize("model", ["resnet34", "resnet32"])
def test_residual_blocks_fork_and_join(model):
    entry = arch.model_from_architecture(model)
    preds: dict[str, list[str]] = {layer["name"]: [] for layer in entry["layers"]}
    for layer in entry["layers"]:
        for target in layer["next"]:
            preds[target].append(layer["name"])
    joins = [name for name in preds if name.endswith("_branch2b")]
    assert joins and all(len(preds[name]) == 2 for name in joins)
    for name in joins:
        first = name.replace("_branch2b", "_branch2a")
        shortcut = next(p for p in preds[name] if p != first)
        # the shortcut is the block input (or its projection, which reads the block input)
        block_input = preds[first]
        assert shortcut in block_input or preds[shortcut] == block_input


def test_cifar_and_imagenet_inputs():
    assert arch.model_from_architecture("resnet34")["input_mb"] == 224 * 224 * 3 * 4 / 2**20
    for model in ("resnet32", "vgg16", "nin"):
        assert arch.model_from_architecture(model)["input_mb"] == 32 * 32 * 3 * 4 / 2**20


def test_committed_files_equal_the_architectures():
    for model in ARCHITECTURE_MODELS:
        assert load_model(model) == json.loads(model_json(arch.model_from_architecture(model)))


def test_unknown_architecture():
    with pytest.raises(KeyError, match="lenet"):
        arch.build("lenet")
