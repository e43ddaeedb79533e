"""Profiling torch networks into models: the reference networks against the library,
the folding rules, the commands and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import networkx as nx
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from offloadlab.cli import main  # noqa: E402
from offloadlab.instance import load_instance  # noqa: E402
from offloadlab.instances import architectures as arch  # noqa: E402
from offloadlab.instances import profile as prof  # noqa: E402
from offloadlab.instances.models import dag_defects, round_floats  # noqa: E402
from offloadlab.instances.torch_models import REFERENCE_NETWORKS  # noqa: E402
from offloadlab.instances.wrap import PRESETS, wrap_model  # noqa: E402

from test_architectures import TABLE_IV  # noqa: E402

TORCH_MODELS = "offloadlab.instances.torch_models"


def profiled(name: str, **kwargs) -> prof.Profile:
    return prof.profile_model(f"{TORCH_MODELS}:{name}", REFERENCE_NETWORKS[name][1], **kwargs)


def fold_weightless(entry: dict) -> dict:
    """``entry`` with every weightless, workless one-input layer (LRN) merged upward."""
    layers = {layer["name"]: dict(layer) for layer in entry["layers"]}
    preds = {name: [] for name in layers}
    for layer in layers.values():
        for succ in layer["next"]:
            preds[succ].append(layer["name"])
    for name in list(layers):
        layer = layers[name]
        if layer["gcycles"] == 0 and layer["param_mb"] == 0 and len(preds[name]) == 1:
            up = layers[preds[name][0]]
            up["next"] = [n for n in up["next"] if n != name] + layer["next"]
            for succ in layer["next"]:
                preds[succ] = [preds[name][0] if p == name else p for p in preds[succ]]
            del layers[name]
    return {"input_mb": entry["input_mb"], "layers": list(layers.values())}


def graph(entry: dict) -> nx.DiGraph:
    g = nx.DiGraph()
    for layer in entry["layers"]:
        g.add_node(layer["name"], values=tuple(round(layer[k], 9) for k in
                                               ("gcycles", "out_mb", "param_mb")))
        g.add_edges_from((layer["name"], succ) for succ in layer["next"])
    return g


def same_dag(a: dict, b: dict) -> bool:
    """Isomorphic DAGs whose matched layers have equal work, output and weights."""
    return nx.is_isomorphic(graph(a), graph(b),
                            node_match=lambda x, y: x["values"] == y["values"])


# --- the reference networks against the library's profiles ----------------------------


@pytest.mark.parametrize("torch_name,library_name", [
    ("alexnet", "alexnet"), ("vgg19", "vgg19"), ("vgg16_cifar", "vgg16"),
    ("googlenet", "googlenet"), ("resnet34", "resnet34"), ("resnet32", "resnet32")])
def test_reference_network_equals_the_library_profile(torch_name, library_name):
    result = profiled(torch_name)
    library = arch.model_from_architecture(library_name)
    assert dag_defects(result.entry) == []
    assert result.entry["input_mb"] == library["input_mb"]
    net = arch.build(library_name)
    assert result.params == net.total_params
    total = sum(layer["param_mb"] for layer in result.entry["layers"])
    assert total == pytest.approx(net.total_params * 4 / 2**20, rel=1e-12)
    # LRN layers are folded into their producer, as in the workbook's AlexNet
    assert same_dag(result.entry, fold_weightless(library))


def test_resnet101_against_the_workbook_architecture_and_table_iv():
    result = profiled("resnet101")
    net = arch.resnet101_net()
    assert result.params == net.total_params == 44_549_160
    # the same convolutions, pools and fc; the workbook layout adds the residual sum in
    # a weightless branch1 layer of each of the 29 identity blocks, the profile in the
    # block's last convolution (one add per output element either way)
    assert result.flops == pytest.approx(sum(x.flops for x in net.layers), rel=1e-3)
    layers = result.entry["layers"]
    identity = [x for x in net.layers if x.kind == "identity"]
    assert len(layers) == len(net.layers) - len(identity) == 107
    preds = {x["name"]: 0 for x in layers}
    for x in layers:
        for succ in x["next"]:
            preds[succ] += 1
    joins = [name for name, count in preds.items() if count == 2]
    assert len(joins) == 33 and all(name.endswith("conv3") for name in joins)
    assert dag_defects(result.entry) == []


@pytest.mark.parametrize("model", sorted(TABLE_IV))
def test_table_iv_flops_and_params(model):
    params_m, gmacs, size_mb = TABLE_IV[model]
    # Table IV's 0.7 GFLOPs for AlexNet is the two-group network's work
    work = profiled("alexnet_grouped" if model == "alexnet" else model)
    result = profiled(model)
    assert result.params / 1e6 == pytest.approx(params_m, rel=0.05)
    assert sum(x["param_mb"] for x in result.entry["layers"]) == pytest.approx(size_mb,
                                                                             rel=0.05)
    assert work.flops / 2 / 1e9 == pytest.approx(gmacs, rel=0.05)  # Table IV counts MACs


def test_resnet18_and_vgg16_imagenet_counts():
    r18, vgg = profiled("resnet18"), profiled("vgg16")
    assert r18.params == 11_689_512 and vgg.params == 138_357_544
    assert r18.flops / 2 / 1e9 == pytest.approx(1.82, rel=0.01)
    assert vgg.flops / 2 / 1e9 == pytest.approx(15.5, rel=0.01)
    assert len(r18.entry["layers"]) == 23 and len(vgg.entry["layers"]) == 21


def test_hooks_record_the_same_model_as_fx():
    factory, shape = REFERENCE_NETWORKS["resnet32"]
    net = prof.build_network(factory, "resnet32")
    x = torch.empty(shape, device="meta")
    entries = [prof.model_entry(prof.record_ops(net, x, [], method=m)[0], prof._bytes(x), [])
               for m in ("fx", "hooks")]
    assert entries[0] == entries[1]


# --- folding rules on small networks ---------------------------------------------------

NETS = textwrap.dedent('''
    import torch
    from torch import nn


    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.a = nn.Conv2d(8, 8, 3, padding=1)
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.head = nn.Linear(8 * 8 * 8, 4)

        def forward(self, x):
            x = torch.relu(self.bn(self.stem(x)))
            y = self.b(torch.relu(self.a(x))) + x
            return self.head(torch.flatten(torch.relu(y), 1))


    class TwoHeads(nn.Module):
        """Two layers read the input; one branch is computed but not returned."""

        def __init__(self):
            super().__init__()
            self.p = nn.Linear(6, 5)
            self.q = nn.Linear(6, 5)
            self.unused = nn.Linear(5, 3)
            self.shared = nn.Linear(5, 5)

        def forward(self, x):
            h = self.p(x)
            self.unused(h)
            return self.shared(self.shared(h) * self.q(x))


    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.b = nn.Linear(8, 8)

        def forward(self, x):
            h = self.a(x)
            if h.mean() > 0:
                return self.b(h)
            return h


    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x), x


    class Reshaping(nn.Module):
        """Uses a traced size as a Python int: torch.fx cannot trace it."""

        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 6)
            self.b = nn.Linear(6, 2)

        def forward(self, x):
            h = self.a(x)
            return self.b(h.reshape(int(h.shape[0]), -1))


    class Attention(nn.Module):
        def __init__(self, d=16):
            super().__init__()
            self.norm = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)

        def forward(self, x):
            q, k, v = self.qkv(self.norm(x)).chunk(3, dim=-1)
            a = torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1)
            return x + self.proj(a @ v)


    def residual():
        return Residual()


    def attention():
        return Attention()


    def two_heads():
        return TwoHeads()


    def gate():
        return Gate()


    def pair():
        return Pair()


    def reshaping():
        return Reshaping()


    def needs_width(width):
        return nn.Linear(width, 2)


    def not_a_module():
        return [nn.Linear(2, 2)]
''')


@pytest.fixture
def nets(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return path


def layers_of(entry: dict) -> dict:
    return {layer["name"]: layer for layer in entry["layers"]}


def test_residual_add_is_folded_into_the_deeper_branch(nets):
    result = prof.profile_model(f"{nets}:residual", (1, 3, 8, 8))
    layers = layers_of(result.entry)
    assert list(layers) == ["stem", "a", "b", "head"]
    assert layers["stem"]["next"] == ["a", "b"] and layers["b"]["next"] == ["head"]
    # b holds the add: 2 x MACs + one add per output element; stem holds the BatchNorm
    assert layers["b"]["gcycles"] * 1e9 == pytest.approx(2 * 8 * 8 * 9 * 8 * 8 + 8 * 8 * 8)
    assert layers["stem"]["param_mb"] * 2**20 == 4 * (8 * 3 * 9 + 8 + 2 * 8)
    assert layers["stem"]["out_mb"] * 2**20 == 4 * 8 * 8 * 8
    assert result.entry["input_mb"] * 2**20 == 4 * 3 * 8 * 8


def test_input_fan_out_dead_branch_and_shared_weights(nets):
    result = prof.profile_model(f"{nets}:two_heads", (2, 6))
    notes = result.notes
    layers = layers_of(result.entry)
    assert list(layers)[0] == "input" and layers["input"]["gcycles"] == 0
    assert sorted(layers["input"]["next"]) == ["p", "q"]
    assert "unused" not in layers and any("unused" in n for n in notes)
    # the module called twice is two layers, each with its weights
    assert layers["shared"]["param_mb"] == layers["shared_1"]["param_mb"] > 0
    # the product of two layers' outputs: one multiply per element, not folded into
    # shared (whose output the second call also reads)
    assert dag_defects(result.entry) == []


def test_attention_products_are_layers_and_a_split_output_is_sent_whole(nets):
    result = prof.profile_model(f"{nets}:attention", (1, 10, 16))
    layers = layers_of(result.entry)
    assert list(layers) == ["input", "qkv", "matmul", "matmul_1", "proj"]
    assert layers["input"]["next"] == ["qkv", "proj"]  # the residual reads the input
    assert layers["qkv"]["out_mb"] * 2**20 == 4 * 10 * 48  # q, k and v
    assert layers["matmul"]["gcycles"] * 1e9 == 2 * 10 * 10 * 16
    # the LayerNorm on the input goes with the first layer that reads it
    assert layers["qkv"]["param_mb"] * 2**20 == 4 * (16 * 48 + 48 + 2 * 16)


def test_block_granularity_merges_between_cut_layers(nets):
    layer = profiled("resnet18").entry
    block = prof.group_blocks(layer)
    names = [x["name"] for x in block["layers"]]
    assert names == ["conv1", "maxpool"] + [f"layer{s}.{b}" for s in (1, 2, 3, 4)
                                            for b in (0, 1)] + ["avgpool", "fc"]
    for key in ("gcycles", "param_mb"):
        assert sum(x[key] for x in block["layers"]) == pytest.approx(
            sum(x[key] for x in layer["layers"]))
    assert dag_defects(block) == []
    chain = profiled("vgg16_cifar").entry
    assert prof.group_blocks(chain) == chain


def test_measure_times_the_same_layers(nets):
    flops = prof.profile_model(f"{nets}:residual", (1, 3, 8, 8))
    timed = prof.profile_model(f"{nets}:residual", (1, 3, 8, 8), measure=True, repeats=1,
                               ghz=2.0)
    assert [x["name"] for x in timed.entry["layers"]] == [
        x["name"] for x in flops.entry["layers"]]
    assert all(x["gcycles"] > 0 for x in timed.entry["layers"])
    assert [x["out_mb"] for x in timed.entry["layers"]] == [
        x["out_mb"] for x in flops.entry["layers"]]


def test_untraceable_network_falls_back_to_hooks(nets):
    result = prof.profile_model(f"{nets}:reshaping", (3, 4))
    assert result.method == "hooks" and "module hooks" in result.notes[0]
    assert [x["name"] for x in result.entry["layers"]] == ["a", "b"]


# --- commands ---------------------------------------------------------------------------


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def test_profile_new_validate_solve(nets, tmp_path):
    model = tmp_path / "res.json"
    out = run("profile", f"{nets}:residual", "--input-shape", "1,3,8,8", "--out", model,
              "--json")
    summary = json.loads(out.stdout)
    assert summary["layers"] == 4 and summary["method"] == "fx"
    assert json.loads(model.read_text()) == round_floats(prof.profile_model(
        f"{nets}:residual", (1, 3, 8, 8)).entry)
    for preset in PRESETS:
        inst = tmp_path / f"{preset}.json"
        run("instances", "new", "--model", model, "--preset", preset, "--tasks", 2,
            "--out", inst)
        loaded = load_instance(inst)
        assert loaded.name.startswith(preset.split("-")[0] + "-res-")
        assert len(loaded.tasks) == 2 and list(loaded.models) == ["res"]
    run("instances", "validate", *[tmp_path / f"{p}.json" for p in PRESETS])
    solved = json.loads(run("solve", tmp_path / "latency-small.json", "--solver", "exact",
                            "--time-limit", 30, "--json").stdout)
    greedy = json.loads(run("solve", tmp_path / "latency-small.json", "--solver", "greedy",
                            "--json").stdout)
    assert solved["status"] == "optimal" and solved["gap"] == pytest.approx(0, abs=1e-6)
    assert greedy["objective"] >= solved["bound"] - 1e-9


def test_resnet101_profile_validates_and_solves(tmp_path):
    model = tmp_path / "resnet101.json"
    run("profile", f"{TORCH_MODELS}:resnet101", "--input-shape", "1,3,224,224", "--out",
        model)
    inst = tmp_path / "inst.json"
    run("instances", "new", "--model", model, "--preset", "latency-small", "--tasks", 1,
        "--out", inst)
    out = json.loads(run("solve", inst, "--solver", "greedy", "--json").stdout)
    assert out["status"] == "feasible" and len(out["plan"]["assignment"]["t1"]) == 107


@pytest.mark.parametrize("args,message", [
    (["{nets}:gate", "--input-shape", "2,8"],
     "data-dependent control flow in the forward of Gate at nets.py:"),
    (["{nets}:needs_width", "--input-shape", "2,8"], "needs arguments ['width']"),
    (["{nets}:residual", "--input-shape", "1,4,8,8"],
     "with --input-shape 1,4,8,8 the network fails at stem (Conv2d, expects 3 input channels)"),
    (["{nets}:residual", "--input-shape", "1,3,x"], "expected positive integers"),
    (["{nets}:pair", "--input-shape", "2,4"], "returns tuple, not a tensor"),
    (["{nets}:not_a_module", "--input-shape", "2,4"], "returned list, not a torch.nn.Module"),
    (["{nets}:missing", "--input-shape", "2,4"], "has no callable 'missing'"),
    (["{nets}", "--input-shape", "2,4"], "expected package.module:factory"),
    (["no/such/file.py:f", "--input-shape", "2,4"], "no such file"),
    (["no_such_package.models:f", "--input-shape", "2,4"], "cannot import"),
])
def test_profile_errors_are_one_line(nets, args, message):
    result = run("profile", *[a.format(nets=nets) for a in args], code=2)
    assert message in result.output and result.output.count("\n") == 1


def test_instances_new_errors(nets, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"input_mb": 1, "layers": [
        {"name": "a", "gcycles": 1, "out_mb": 1, "next": ["b"]}]}))
    out = run("instances", "new", "--model", bad, "--preset", "latency-paper", "--out",
              tmp_path / "i.json", code=2).output
    assert "bad.json" in out and "models.bad.layers[0].next[0]" in out and "'b'" in out
    out = run("instances", "new", "--model", bad, "--preset", "latency-huge", "--out",
              tmp_path / "i.json", code=2).output
    assert "unknown preset 'latency-huge'" in out
    with pytest.raises(KeyError):
        wrap_model({}, "m", "nope", 1)


def test_the_command_line_does_not_import_torch_until_profiling():
    code = ("import sys, offloadlab, offloadlab.cli; "
            "print(sorted(m for m in ('torch', 'pyomo', 'pymoo', 'dask', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_profile_without_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed
    out = run("profile", f"{TORCH_MODELS}:resnet18", "--input-shape", "1,3,32,32",
              code=2).output
    assert "pip install 'offloadlab[profile]'" in out
