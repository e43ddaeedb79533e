"""The random DAG instance generator and its command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from offloadlab import Problem
from offloadlab.cli import main
from offloadlab.instance import parse_instance
from offloadlab.instances.generators import dag_arcs, random_dag_instance


@pytest.mark.parametrize("shape", ["layered", "random"])
@pytest.mark.parametrize("nodes", [50, 100, 300])
def test_dags_have_one_source_reaching_every_node(shape, nodes):
    arcs = dag_arcs(np.random.default_rng(nodes), nodes, shape)
    assert all(i < j for i, j in arcs)
    has_pred = {j for _, j in arcs}
    assert has_pred == set(range(1, nodes))
    problem = Problem.from_instance(random_dag_instance(nodes=nodes, shape=shape, seed=1))
    assert problem.n_layers == nodes
    assert (np.diff(problem.pred_ptr) == 0).sum() == 1


@pytest.mark.parametrize("speeds", ["identical", "related"])
@pytest.mark.parametrize("data", [False, True])
def test_instance_follows_its_parameters(speeds, data):
    inst = random_dag_instance(nodes=60, servers=16, speeds=speeds, data=data, seed=7,
                               p_min_s=2.0, p_max_s=5.0, tasks=2)
    problem = Problem.from_instance(inst)
    assert problem.n_servers == 16 and problem.n_tasks == 2 and problem.n_layers == 120
    assert (problem.gcycles >= 2.0).all() and (problem.gcycles <= 5.0).all()
    assert (problem.task_device == -1).all() and (problem.pools == 1).all()
    if speeds == "identical":
        assert (problem.ghz == 1.0).all()
    else:
        assert problem.ghz.min() >= 1.0 and problem.ghz.max() <= 4.0
        assert len(set(problem.ghz)) > 1
    assert (problem.out_mb > 0).all() == data and (problem.out_mb == 0).all() != data


def test_same_seed_same_file_other_seed_other_file():
    a = random_dag_instance(nodes=80, shape="random", seed=3).to_json()
    assert a == random_dag_instance(nodes=80, shape="random", seed=3).to_json()
    assert a != random_dag_instance(nodes=80, shape="random", seed=4).to_json()
    assert parse_instance(json.loads(a)).name == "dag-random-80n-4p-s3"


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="shape"):
        random_dag_instance(shape="tree")
    with pytest.raises(ValueError, match="p_min_s"):
        random_dag_instance(p_min_s=0.0)
    with pytest.raises(ValueError, match="at least 2 nodes"):
        random_dag_instance(nodes=1)


def test_command_writes_a_valid_instance(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["instances", "generate-dag", "--nodes", "30", "--servers",
                               "3", "--speeds", "related", "--data", "--seed", "2"])
    assert res.exit_code == 0, res.output
    inst = parse_instance(json.loads(res.stdout))
    assert len(inst.servers) == 3 and len(inst.models["dag0"].layers) == 30
    out = tmp_path / "g.json"
    res = runner.invoke(main, ["instances", "generate-dag", "--seed", "2", "--out", str(out)])
    assert res.exit_code == 0 and out.exists()
    res = runner.invoke(main, ["instances", "validate", str(out)])
    assert res.exit_code == 0
    res = runner.invoke(main, ["instances", "generate-dag", "--p-min", "3", "--p-max", "1"])
    assert res.exit_code == 2 and "p_min_s" in res.output
