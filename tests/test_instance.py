"""The instance format: every defect refused with file, JSON path and reason."""

from __future__ import annotations

import json

import pytest

from offloadlab import InstanceError, load_instance, parse_instance
from offloadlab.instance import SCHEMA_PATH, json_schema, json_schema_text
from offloadlab.instances.library import BUILDERS, build, library_files

from conftest import tiny_dict


def refuse(mutate, path: str, *words: str):
    data = tiny_dict()
    mutate(data)
    with pytest.raises(InstanceError) as err:
        parse_instance(data, "bad.json")
    msg = str(err.value)
    assert msg.startswith("bad.json: "), msg
    assert err.value.path == path, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_valid_tiny_loads():
    inst = parse_instance(tiny_dict())
    assert inst.servers[0].pools == 1 and inst.links[0].usd_per_gb == 0.0
    assert inst.tasks[0].release_s == 0.0 and inst.tasks[0].deadline_s is None


def test_unknown_field_is_an_error_with_a_suggestion():
    refuse(lambda d: d["servers"][0].update(ghzz=1.0), "servers[0].ghzz", "did you mean 'ghz'")
    refuse(lambda d: d.update(extra=1), "extra", "unknown field")
    refuse(lambda d: d["objective"].update(delta=0.3), "objective.delta", "unknown field")


def test_wrong_units_are_named():
    refuse(lambda d: d["servers"][0].update(mhz=2300), "servers[0].mhz", "ghz (GHz)")
    refuse(lambda d: d["servers"][0].update(ghz=2300.0), "servers[0].ghz", "1000")
    refuse(lambda d: d["links"][0].update(mbps=1.0), "links[0].mbps", "mb_per_s")


@pytest.mark.parametrize("field,value", [("ghz", 0.0), ("ghz", -1.0)])
def test_zero_or_negative_speed(field, value):
    refuse(lambda d: d["servers"][1].update({field: value}), f"servers[1].{field}",
           "greater than 0")


def test_zero_bandwidth_and_negative_sizes():
    refuse(lambda d: d["links"][0].update(mb_per_s=0), "links[0].mb_per_s", "greater than 0")
    refuse(lambda d: d["models"]["m"]["layers"][0].update(out_mb=-1),
           "models.m.layers[0].out_mb", "greater than or equal to 0")


def test_unknown_references():
    refuse(lambda d: d["tasks"][0].update(model="resnet"), "tasks[0].model", "'resnet'")
    refuse(lambda d: d["tasks"][1].update(device="d9"), "tasks[1].device", "'d9'")
    refuse(lambda d: d["tasks"][1].update(device="e1"), "tasks[1].device", "not a device")
    refuse(lambda d: d["links"][2].update(b="fog"), "links[2].b", "'fog'")
    refuse(lambda d: d["objective"].update(kind="energy"), "objective", "'energy'")


def test_dag_defects_named_by_layer():
    layers = lambda d: d["models"]["m"]["layers"]  # noqa: E731
    refuse(lambda d: layers(d)[1].update(next=["zz"]), "models.m.layers[1].next[0]",
           "'b'", "'zz'")
    refuse(lambda d: layers(d)[1].update(next=["b"]), "models.m.layers[1].next[0]",
           "own successor")
    refuse(lambda d: layers(d)[1].update(name="a"), "models.m.layers[1].name", "duplicate")
    refuse(lambda d: layers(d).append({"name": "c", "gcycles": 1, "out_mb": 1}),
           "models.m.layers", "unreachable", "'c'")

    def cycle(d):
        layers(d).insert(0, {"name": "in", "gcycles": 1, "out_mb": 1, "next": ["a"]})
        layers(d)[2]["next"] = ["a"]
    refuse(cycle, "models.m.layers", "cycle", "'a'", "'b'")


def test_duplicate_names():
    refuse(lambda d: d["servers"][1].update(name="d1"), "servers[1].name", "duplicate")
    refuse(lambda d: d["tasks"][1].update(name="t1"), "tasks[1].name", "duplicate")


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(InstanceError, match="broken.json.*not valid JSON"):
        load_instance(bad)
    with pytest.raises(InstanceError, match="missing.json.*no such file"):
        load_instance(tmp_path / "missing.json")
    data = tiny_dict()
    data["format"] = "offloadlab.instance/0"
    bad.write_text(json.dumps(data))
    with pytest.raises(InstanceError, match="broken.json: format: unsupported"):
        load_instance(bad)


def test_shipped_schema_matches_models():
    assert SCHEMA_PATH.read_text() == json_schema_text()
    assert json_schema()["properties"]["servers"]["items"]["$ref"] == "#/$defs/Server"


def test_library_is_complete_valid_and_rebuilt_byte_identically():
    files = library_files()
    assert sorted(f.stem for f in files) == sorted(BUILDERS)
    for path in files:
        inst = load_instance(path)
        assert inst.name == path.stem
        assert build(path.stem).to_json() == path.read_text(), path.name


def test_library_names_follow_the_convention():
    for name in BUILDERS:
        family, _model, size, seed = name.split("-")
        assert family in ("latency", "ddpqn", "dmro", "deadline", "makespan")
        assert size in ("tiny", "small", "paper") and seed.startswith("s")
