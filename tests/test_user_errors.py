"""A new user's first hour: every bad input is a one-line error (exit 2), every
``--json`` output is one JSON document, statuses and limits are honest."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import offloadlab as ol
from offloadlab.cli import main
from offloadlab.instance import InstanceError, parse_instance
from offloadlab.instances.library import library_path
from offloadlab.registry import SOLVERS, SolverError, check_params, register

TINY = "latency-alexnet-tiny-s0"
TINY_DDPQN = "ddpqn-alexnet-tiny-s0"
WORKBOOK = library_path(TINY).parent.parent / "data" / "dnn-layer-profiles.xlsx"


def run(*args, code=0, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert result.exit_code == code, result.output
    if code == 2:  # a one-line error, never a traceback
        assert "Traceback" not in result.output
        assert result.output.strip().splitlines()[-1].startswith("Error: ")
    return result


def error(*args) -> str:
    return run(*args, code=2).output.strip().splitlines()[-1]


def problem(name=TINY):
    return ol.Problem.from_instance(ol.load_instance(library_path(name)))


def boom(problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """A suite target that raises (imported by the runner's workers)."""
    raise RuntimeError("boom")


def nap(problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """A suite target that ignores its time limit, then returns the greedy plan."""
    time.sleep(3.0)
    return ol.solve(problem, "greedy")


# --- 2. budgets are validated once, for every solver ------------------------------------
@pytest.mark.parametrize("solver", ["greedy", "pso-ga"])
@pytest.mark.parametrize("option, value, words", [
    ("--time-limit", -5, "--time-limit must be a positive number"),
    ("--time-limit", 0, "--time-limit must be a positive number"),
    ("--budget-evals", 0, "--budget-evals must be an integer >= 1"),
    ("--budget-evals", -3, "--budget-evals must be an integer >= 1"),
    ("--seed", -1, "--seed must be an integer"),
])
def test_budgets_are_checked_for_every_solver(solver, option, value, words):
    assert words in error("solve", TINY, "--solver", solver, option, value)


@pytest.mark.parametrize("args", [
    ["bench", "env", "--seed", "-1"], ["instances", "generate-dag", "--seed", "-1"],
    ["instances", "new", "--model", "{model}", "--preset", "dmro-paper", "--seed", "-1",
     "--out", "{out}"]])
def test_seed_options_refuse_a_negative_seed(args, tmp_path):
    """numpy's generators raise on a negative seed: the option refuses it first."""
    model = library_path(TINY).parent.parent / "models" / "alexnet.json"
    args = [a.format(model=model, out=tmp_path / "x.json") for a in args]
    assert "'--seed': -1 is not in the range" in error(*args)
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("solver", ["dp", "exact", "dqn", "greedy"])
@pytest.mark.parametrize("run", [{"time_limit_s": -1.0}, {"time_limit_s": float("nan")},
                                 {"budget_evals": 0}, {"seed": -2}])
def test_get_solver_functions_check_budgets_before_starting(solver, run):
    """The Python door below ``solve``: a registered function refuses bad budgets too."""
    with pytest.raises(ol.SolverError, match="must be"):
        ol.get_solver(solver)(ol.Problem.from_instance(ol.load_instance(library_path(TINY))),
                              **run)


TIME_LIMIT_COMMANDS = [
    ["solve", TINY, "--solver", "greedy"], ["gap", TINY], ["bench", "quick"],
    ["bench", "exact", "--instance", TINY], ["bench", "run", "quick"], ["tmoa"],
    ["train", "dqn", TINY, "--out", "x.pt"], ["train", "mtl-a3c", "--out", "x.pt"],
    ["train", "dmro", "--meta", "--out", "x.pt"]]


@pytest.mark.parametrize("args", TIME_LIMIT_COMMANDS)
@pytest.mark.parametrize("limit", [-1, 0])
def test_every_time_limit_option_refuses_a_non_positive_limit(args, limit, tmp_path,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)  # checked before any training starts: no checkpoint
    msg = error(*args, "--time-limit", limit)
    assert msg == f"Error: --time-limit must be a positive number of seconds, got {limit:.1f}"


@pytest.mark.parametrize("args", TIME_LIMIT_COMMANDS)
def test_a_negative_time_limit_is_one_line_in_a_real_process(args, tmp_path):
    """The same through ``python -m offloadlab``: what a terminal shows, all of it."""
    done = subprocess.run([sys.executable, "-m", "offloadlab", *args, "--time-limit", "-1"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "Error: --time-limit must be a positive number of seconds, got -1.0\n"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("module", ["cpsat", "makespan_cp"])
def test_the_cp_sat_children_run_by_hand_say_what_to_run_instead(module, tmp_path):
    done = subprocess.run([sys.executable, "-m", f"offloadlab.formulations.{module}",
                           "--time-limit", "-1"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(
        f"Error: offloadlab.formulations.{module} is the CP-SAT child process")


@pytest.mark.parametrize("args, option", [
    (["bench", "env"], "--seconds"), (["bench", "simulator"], "--seconds"),
    (["instances", "generate-dag"], "--p-max"), (["profile", "x.py:net"], "--ghz")])
@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_seconds_and_speeds_must_be_finite_and_positive(args, option, value):
    msg = error(*args, option, value)   # click's FloatRange alone lets nan and inf in
    assert msg.startswith(f"Error: Invalid value for '{option}'")
    assert ("not a finite number" if value != "-1" else "not in the range x>0") in msg

def test_train_checks_its_seed_and_steps():
    assert "--seed must be an integer" in error("train", "dqn", TINY, "--out", "x.pt",
                                                "--seed", -3)
    assert "--steps must be positive, got 0" in error("train", "dmro", "--out", "x.pt",
                                                      "--steps", 0)
    # meta-learning's options are refused where they would be ignored
    assert "--envs: only with --meta" in error("train", "dqn", TINY, "--out", "x.pt",
                                               "--envs", 4)
    assert "--family: only with --meta" in error("train", "dmro", "--out", "x.pt",
                                                 "--family", "dmro-workflows")


@pytest.mark.parametrize("script, args, words", [
    ("pareto_report", ["--exact-time-limit", "-1"],
     "argument --exact-time-limit: must be a number above 0, got '-1'"),
    ("pareto_paper", ["--learner-evals", "0"],
     "argument --learner-evals: must be a number above 0, got '0'"),
    ("dag_optima", ["--exact", "x"], "argument --exact: must be a number above 0, got 'x'"),
    ("mtl_a3c_figs", ["--exact-s", "-1"], "Invalid value for '--exact-s'"),
    ("mtl_a3c_goals", ["--steps", "0"], "Invalid value for '--steps'"),
    ("mtl_a3c_goals", ["--target-gap", "-1"], "Invalid value for '--target-gap'"),
    ("dag_bounds", ["--time-limit", "-1"],
     "argument --time-limit: must be a number above 0, got '-1'"),
    ("decoders", ["--seeds", "-1"], "argument --seeds: must be a number of 0 or more"),
    ("pso_ga_quality", ["--budget-evals", "0"], "Invalid value for '--budget-evals'"),
    ("eosdnn_fig16", ["{out}", "--exact-time-limit", "-1"],
     "Invalid value for '--exact-time-limit'"),
    ("eosdnn_fig17", ["{out}", "--budget-evals", "-1"], "Invalid value for '--budget-evals'"),
    ("ddpqn_figures", ["{out}", "--exact-time-limit", "0"],
     "Invalid value for '--exact-time-limit'"),
    ("ddpqn_fig4_5", ["{out}", "--steps", "-1"], "Invalid value for '--steps'"),
    ("ddpqn_generalisation", ["{out}", "--steps", "0"], "Invalid value for '--steps'"),
    ("dmro_goals", ["{out}", "--budget", "-1"], "Invalid value for '--budget'"),
    ("dmro_meta", ["{out}", "--meta-steps", "-1"], "Invalid value for '--meta-steps'"),
    ("mtl_a3c_hard", ["--train-s", "nan"], "'nan' is not a finite number"),
    ("eosdnn_fig16", ["{out}", "--exact-time-limit", "inf"], "'inf' is not a finite number"),
    ("mtl_a3c_goals", ["--target-gap", "nan"], "'nan' is not a finite number"),
    ("dag_optima", ["--only", "99"], "argument --only: invalid choice: 99"),
    ("dag_optima", ["--plans", "{out}", "--only", "0"], "--plans "),
    ("dag_optima", ["--measure", "--seeds", "-1"],
     "argument --seeds: must be a number of 0 or more, got '-1'"),
])
def test_benchmark_scripts_refuse_non_positive_budgets(script, args, words, tmp_path):
    out = tmp_path / "results"
    (tmp_path / "file.txt").write_text("")
    args = [a.format(out=out, dir=tmp_path, file=tmp_path / "file.txt") for a in args]
    done = subprocess.run([sys.executable, "-m", f"offloadlab.benchmarks.{script}", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert words in done.stderr.strip().splitlines()[-1]
    assert not out.exists()



@pytest.mark.parametrize("script, args, words", [
    # solver runs are checked before the first starts (time limit, names, parameters)
    ("pso_ga_quality", ["--param", "time_limit_s=-1"],
     "time_limit_s is not a parameter; it is a run setting, which this command does not"),
    ("pso_ga_quality", ["--param", "budget_evals=9"],
     "budget_evals is not a parameter; use --budget-evals"),
    ("dmro_goals", ["{out}", "--param", "seed=1"], "seed is not a parameter; use --seeds"),
    ("pso_ga_quality", ["--instance", "nosuch"], "neither a file nor a library instance"),
    ("dmro_goals", ["{out}", "--solvers", "nosuch"], "unknown solver 'nosuch'"),
    ("ddpqn_fig4_5", ["{out}", "--param", "nosuch=1"], "unknown parameter 'nosuch'"),
    ("ddpqn_generalisation", ["{out}", "--learner", "greedy"], "not a DQN variant"),
    ("ddpqn_generalisation", ["{out}", "--param", "time_limit_s=-1"],
     "time_limit_s is not a parameter; it is a run setting, which this command does not"),
    ("pareto_paper", ["--algorithm", "nosuch"], "invalid choice: 'nosuch'"),
    ("pareto_paper", ["--instance", "nosuch"], "neither a file nor a library instance"),
    ("mtl_a3c_goals", ["--learner", "nosuch"], "'nosuch' is not one of"),
    ("dmro_meta", ["{out}", "--family", "nosuch"], "'nosuch' is not one of"),
    ("dmro_figures", ["{out}", "--weights", "x"], "expected finite numbers of 0 or more"),
    ("decoders", ["--decoder", "nosuch", "--at-bound"], "invalid choice: 'nosuch'"),
    ("dag_bounds", ["--nodes", "-1"], "--nodes: expected integers of at least 2"),
    ("dag_bounds", ["--servers", "0"], "--servers: expected integers of at least 1"),
    ("mtl_a3c_goals", ["--seeds", "x"], "'--seeds': expected integers of at least 0"),
    ("mtl_a3c_hard", ["--seeds", "-1"], "'--seeds': expected integers of at least 0"),
    ("pareto_report", ["--algorithms", "x"], "--algorithms x: known are"),
    ("pareto_report", ["--instance", "nope"], "--instance nope / --objectives:"),
    ("pareto_report", ["--objectives", "x"], "objectives 'x':"),
    ("ddpqn_figures", ["{out}", "fig6", "--methods", "nope"], "unknown solver 'nope'"),
    ("ddpqn_generalisation", ["{out}", "--test", "-1"], "'--test': expected integers"),
    ("dmro_goals", ["{out}", "--seeds", "x"], "'--seeds': expected integers"),
    ("dmro_meta", ["{out}", "--test", "x"], "'--test': expected integers"),
    ("dmro_figures", ["{out}", "--weights", "nan"], "expected finite numbers of 0 or more"),
    ("eosdnn_fig17", ["{out}", "--tasks", "0"], "'--tasks': 0 is not in the range"),
    ("eosdnn_fig17", ["{out}", "--model", "nope"], "'--model': 'nope' is not one of"),
    ("mtl_a3c_fig6", ["--out", "{dir}"], "is a directory"),
    ("atsa_fig7", ["{out}", "--milp-seconds", "-1"], "'--milp-seconds'"),
    ("mtl_a3c_hard", ["--learner", "nope"], "unknown solver 'nope'"),
    ("pareto_report", ["--fronts", "{file}"], "is a file, not a folder"),
    ("pareto_paper", ["--out", "{dir}"], "is a folder, not a file"),
    ("decoders", ["--optima", "--plans-dir", "{file}"], "is a file, not a folder"),
])
def test_benchmark_scripts_refuse_bad_names_before_running(script, args, words, tmp_path):
    test_benchmark_scripts_refuse_non_positive_budgets(script, args, words, tmp_path)


@pytest.mark.parametrize("content, words", [("garbage", "Expecting value"),
                                            ("[1]", "not a JSON object"),
                                            (None, "no directory")])
def test_decoders_fingerprints_checks_its_file_before_the_runs(content, words, tmp_path):
    path = tmp_path / "fp.json" if content is not None else tmp_path / "none" / "fp.json"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "offloadlab.benchmarks.decoders",
                           "--fingerprints", str(path)], capture_output=True, text=True,
                          timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert lines[0].startswith(f"--fingerprints {path}: ") and words in lines[0]

# --- 3. a solver on a kind it does not support ------------------------------------------
@pytest.mark.parametrize("solver, instance, kind", [
    ("atsa", TINY, "latency"), ("cpsat", "ddpqn-alexnet-tiny-s0", "ddpqn")])
def test_unsupported_kind_names_kinds_and_solvers(solver, instance, kind):
    msg = error("solve", instance, "--solver", solver)
    assert f"solver {solver!r} supports the objective kinds" in msg
    assert f"not {kind!r}; solvers for {kind!r}:" in msg and "greedy" in msg
    assert f"solver {solver!r} supports" in error("gap", instance, "--solvers",
                                                   f"greedy,{solver}")


def test_api_refuses_an_unsupported_kind_before_running():
    with pytest.raises(SolverError, match="supports the objective kinds makespan"):
        ol.solve(problem(), "atsa")
    with pytest.raises(SolverError, match="budget_evals"):
        ol.solve(problem(), "random", budget_evals=0)


# --- 4. output paths and stores ----------------------------------------------------------
def test_out_into_a_missing_folder(tmp_path):
    msg = error("solve", TINY, "--solver", "greedy", "--out", tmp_path / "no" / "plan.json")
    assert "no such folder" in msg
    assert not (tmp_path / "no").exists()


def test_a_file_that_is_not_a_store(tmp_path):
    bad = tmp_path / "notjson.json"
    bad.write_text("not a database, not JSON either\n" * 50)
    assert "not a results store" in error("report", "--db", bad, "--out", tmp_path / "r")


# --- 1. bench goes on after an errored run, and says so ----------------------------------
def test_bench_reports_errors_and_unmatched_entries(tmp_path):
    suite = tmp_path / "s.json"
    suite.write_text(json.dumps({
        "name": "s", "instances": [TINY], "solvers": [
            "greedy", {"name": "mine", "target": "test_user_errors:boom"},
            {"name": "*no-such-learner*", "optional": True}]}))
    db, report = tmp_path / "r.sqlite", tmp_path / "report"
    out = run("bench", suite, "--db", db, "--workers", 1, "--report", report).output
    assert "RuntimeError: boom" in out and "1 error;" in out and "2 jobs" in out
    assert "*no-such-learner*: optional entry: matched no registered solver" in out
    md = (report / "report.md").read_text()
    assert "`*no-such-learner*` (optional) matched no registered solver" in md
    assert "objective-vs-size" not in md  # one instance size: no such plot
    again = json.loads(run("bench", suite, "--db", db, "--json").stdout)
    assert again["reused"] == 2 and again["errors"] == 0
    assert [r["wall_s"] for r in again["rows"] if r["solver"] == "mine"] == [None]
    assert "--time-limit must be a positive" in error("bench", "quick", "--time-limit", -5)
    assert error("report", "--db", db, "--out", report, "--suite", "z") == (
        f"Error: --suite 'z': no runs of it in {db} (suites there: s)")
    if importlib.util.find_spec("distributed"):
        assert error("bench", suite, "--db", tmp_path / "new.sqlite", "--dask", "nowhere") == (
            "Error: --dask nowhere: no Dask scheduler there (missing port number in address "
            "'nowhere')")


@pytest.mark.parametrize("args", [
    ["solve", "", "--solver", "greedy"], ["bench", "exact", "--instance", ""],
    ["bench", "heuristics", "--instance", ""], ["bench", "simulator", "--instance", ""],
])
def test_an_empty_name_is_not_an_instance(args):
    # Path("") is the current folder, which exists
    assert "not an instance file nor a library instance name" in error(*args)


@pytest.mark.parametrize("args, words", [
    (["bench", "exact", "--instance", "."], "--instance .: not a library instance name"),
    (["bench", "simulator", "--instance", "."], "--instance .: not a library instance name"),
    (["bench", "heuristics", "--instance", "."], "--instance .: a directory, not an instance"),
])
def test_a_folder_is_not_a_library_instance(args, words):
    assert words in error(*args)


def test_empty_objectives_are_refused_not_defaulted():
    assert "give two or three distinct names" in error("pareto", TINY_DDPQN, "--objectives", "")


def test_runner_records_an_overrun():
    from offloadlab.benchmarks.runner import run_job

    out = run_job({"instance_path": str(library_path(TINY)), "solver": "nap",
                   "target": "test_user_errors:nap", "seed": 0, "time_limit_s": 0.1,
                   "budget_evals": None, "params": {}, "kill_after_s": None})
    assert out["status"] == "feasible"
    assert out["message"].startswith("overran its time limit:") and "0.1 s" in out["message"]


# --- 5. --json: one document on stdout, whatever the solver prints -----------------------
@pytest.mark.parametrize("args", [
    ["solve", TINY, "--solver", "milp", "--json"],
    ["gap", TINY, "--solvers", "greedy,milp", "--time-limit", "20", "--json"],
])
def test_json_survives_the_highs_banner(args):
    proc = subprocess.run([sys.executable, "-m", "offloadlab.cli", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # exactly one JSON document


def test_every_command_prints_one_json_document(tmp_path):
    plan = tmp_path / "plan.json"
    db = tmp_path / "r.sqlite"
    suite = tmp_path / "s.json"
    suite.write_text(json.dumps({"name": "s", "instances": [TINY], "solvers": ["greedy"]}))
    net = tmp_path / "net.py"
    net.write_text("import torch.nn as nn\n\n\ndef net():\n"
                   "    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n")
    commands = [
        ["solve", TINY, "--solver", "greedy", "--out", plan],
        ["evaluate", TINY, plan], ["solvers"], ["solvers", "pso-ga"],
        ["instances", "list"], ["instances", "show", TINY], ["instances", "validate", plan
                                                             .parent / "none.json"],
        ["gap", TINY, "--solvers", "greedy,dp"], ["bench", "suites"],
        ["bench", "simulator", "--seconds", "0.1", "--instance", TINY],
        ["bench", suite, "--db", db, "--workers", "1"], ["report", "--db", db, "--out",
                                                        tmp_path / "rep", "--no-plots"],
        ["upload", TINY, "--planner", "lmu"], ["tmoa", "--nodes", "10"],
        ["bench", "exact", "--instance", TINY, "--time-limit", "20"],
        ["bench", "heuristics", "--instance", TINY, "--budget-evals", "300",
         "--exact-time-limit", "20"],
        ["instances", "import-workbook", WORKBOOK, "--out", tmp_path / "models"],
        ["profile", f"{net}:net", "--input-shape", "1,4", "--out", tmp_path / "net.json"],
        ["train", "dqn", TINY_DDPQN, "--steps", "50", "--out", tmp_path / "a.pt"],
        ["train", "dmro", "--meta", "--envs", "2", "--steps", "20", "--out",
         tmp_path / "meta.pt", "--param", "eval_every=10", "--param", "n_envs=2"],
        ["bench", "env", "--instance", TINY_DDPQN, "--batch", "4", "--seconds", "0.2"],
        ["pareto", "--budget-evals", "200", "dmro-workflows-tiny-s0"],
    ]
    for args in commands:
        result = CliRunner().invoke(main, [str(a) for a in args] + ["--json"])
        assert result.exit_code in (0, 1), (args, result.output)
        json.loads(result.stdout)
    tested = {" ".join(a for a in args[:2] if not str(a).startswith(("-", "/"))
                       and a not in (TINY, TINY_DDPQN, "pso-ga", "dqn")) for args in commands}
    assert tested >= set(json_commands(main)) - {"bench run", "bench quick"}


def json_commands(group, prefix=""):
    """Every command path that takes --json (``bench run`` = a suite file, tested above)."""
    for name, cmd in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            yield from json_commands(cmd, path + " ")
        elif any("--json" in p.opts for p in cmd.params):
            yield path


# --- 6, 7. honest statuses and time limits ----------------------------------------------
@pytest.mark.parametrize("solver", ["pymoo-ga", "pymoo-pso"])
def test_pymoo_peers_report_the_time_limit(solver):
    sol = ol.solve(problem("latency-vgg19-paper-s0"), solver, seed=0, time_limit_s=0.3,
                   budget_evals=10**7)
    assert sol.status == "time_limit" and sol.evaluations < 10**7


@pytest.mark.parametrize("solver, instance, limit_s", [
    ("milp", "latency-alexnet-small-s0", 1.0),   # building the model takes longer
    ("cpsat", "latency-alexnet-small-s0", 0.5),  # the child's start-up takes longer
    ("exact", TINY, 1.0),
])
def test_solvers_stop_within_their_time_limit(solver, instance, limit_s):
    import pyomo.environ  # noqa: F401 - a cold import is not the solver's time

    ol.solve(problem(), "greedy")  # nor is compiling the simulator
    started = time.perf_counter()
    sol = ol.solve(problem(instance), solver, seed=0, time_limit_s=limit_s)
    took = time.perf_counter() - started
    assert took <= 1.1 * limit_s + 2.0, took
    assert sol.status in ("time_limit", "optimal") and sol.objective < float("inf")


# --- 8. typed, validated parameters ------------------------------------------------------
@pytest.mark.parametrize("solver, param, words", [
    ("pso-ga", "search_order=maybe", 'search_order: expected bool, got "maybe"'),
    ("milp", "mip_rel_gap=-1", "mip_rel_gap: expected float in [0, 1], got -1"),
    ("pso-ga", "particles=1.5", "particles: expected int"),
    ("pymoo-pso", "pop_size=1", "pop_size: expected int in [2, "),
    ("pso-ga", "init=best", "expected one of heuristics, greedy, segments, random"),
    ("pso-ga", "name=x", "unknown parameter 'name'; parameters of 'pso-ga': particles (int"),
    ("greedy", "depth=3", "solver 'greedy' takes no parameters"),
    ("random", "budget_evals=3", "budget_evals is not a parameter; use --budget-evals"),
])
def test_parameters_are_typed_and_listed(solver, param, words):
    assert words in error("solve", TINY, "--solver", solver, "--param", param)


@pytest.mark.parametrize("solver, instance, params, words", [
    ("ga", TINY, {"decoder": "order", "search_order": False}, "solver 'ga': decoder 'order'"),
    ("pre-pso", TINY, {"decoder": "order", "search_order": False}, "solver 'pre-pso': decoder"),
    ("ddpqn", TINY_DDPQN, {"order": "priority"}, "solver 'ddpqn': the ddpqn score counts"),
    ("dqn", TINY_DDPQN, {"pad_layers": 1}, "solver 'dqn': pad_layers=1 is shorter than"),
    ("dmro-dqn", "dmro-workflows-tiny-s0", {"pad_layers": 1}, "solver 'dmro-dqn': pad_layers"),
    ("exact", TINY_DDPQN, {"backend": "cpsat"}, "solver 'exact': backend 'cpsat' covers"),
])
def test_parameters_that_cannot_run_together_are_one_line(solver, instance, params, words):
    # each is valid alone; only the solver knows the combination (or the instance) fails
    args = [a for k, v in params.items() for a in ("--param", f"{k}={json.dumps(v)}")]
    assert words in error("solve", instance, "--solver", solver, *args)
    with pytest.raises(SolverError, match=re.escape(words)):
        ol.solve(problem(instance), solver, budget_evals=50, **params)


def test_valid_parameters_are_converted_and_recorded():
    out = json.loads(run("solve", TINY, "--solver", "pso-ga", "--budget-evals", 500,
                         "--param", "search_order=false", "--param", "w_max=1",
                         "--seed", 5, "--json").stdout)
    assert out["solver"] == "pso-ga" and out["seed"] == 5
    assert out["params"]["search_order"] is False and out["params"]["w_max"] == 1.0
    assert check_params("pso-ga", {"eps1": [1, 0]}) == {"eps1": (1.0, 0.0)}


def test_solvers_name_lists_parameters():
    out = run("solvers", "milp").output
    assert "mip_rel_gap" in out and "1e-06" in out and "[0, 1]" in out
    data = json.loads(run("solvers", "pso-ga", "--json").stdout)
    assert data["params"]["search_order"]["default"] is True
    assert "name" not in data["params"] and "seed_plans" not in data["params"]


def test_declared_parameters_exist_in_the_signatures():
    from offloadlab.registry import solver_params

    for name in SOLVERS:
        for key, spec in solver_params(name).items():  # every default read, none missing
            assert spec.default is not ol.registry._NO_DEFAULT, (name, key)
            spec.check(spec.default)


def test_a_type_error_inside_a_solver_is_not_a_user_error():
    register("typeerror-probe", "test_user_errors:raises_type_error", "probe")
    try:
        result = CliRunner().invoke(main, ["solve", TINY, "--solver", "typeerror-probe"])
    finally:
        SOLVERS.pop("typeerror-probe")
    assert isinstance(result.exception, TypeError) and result.exit_code == 1


def raises_type_error(problem, *, seed=None, time_limit_s=None, budget_evals=None):
    raise TypeError("a bug inside the solver")


def test_suite_parameters_are_checked(tmp_path):
    from offloadlab.benchmarks.suite import SuiteError, load_suite

    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "s", "instances": [TINY], "solvers": [
        {"name": "pso-ga", "params": {"search_order": "maybe"}}]}))
    with pytest.raises(SuiteError, match=r"solvers\[0\].params.*search_order"):
        load_suite(path)


# --- 9, 11, 12, 13. consistency -----------------------------------------------------------
def test_library_names_everywhere(tmp_path):
    plan = tmp_path / "plan.json"
    run("solve", TINY, "--solver", "greedy", "--out", plan)
    assert json.loads(run("evaluate", TINY, plan, "--json").stdout)["feasible"]
    assert json.loads(run("gap", TINY, "--solvers", "greedy,dp", "--json").stdout)["rows"]
    model = tmp_path / "m.lp"
    run("model", TINY, "--write-model", model)
    assert model.stat().st_size > 0
    assert "did you mean latency-alexnet-tiny-s0" in error("solve", "latency-alexnet-tny-s0",
                                                           "--solver", "greedy")
    msg = error("instances", "show", "nonexistent-name")
    assert "closest library names:" in msg and "build" not in msg


def test_solvers_show_kinds_and_truthful_summaries():
    rows = json.loads(run("solvers", "--json").stdout)
    kinds = {r["name"]: r["kinds"] for r in rows}
    assert kinds["atsa"] == ["makespan"] and "ddpqn" not in kinds["cpsat"]
    exact = next(r for r in rows if r["name"] == "exact")["summary"]
    assert "CP-SAT" in exact and "Lagrangian" in exact
    assert "makespan" in run("solvers", env={"COLUMNS": "80"}).output


def test_evaluate_says_the_plan_is_an_instance():
    msg = error("evaluate", TINY, library_path(TINY))
    assert "this is an instance file, not a plan" in msg


def test_tables_fit_80_columns(tmp_path):
    plan = tmp_path / "plan.json"
    run("solve", "latency-googlenet-small-s0", "--solver", "greedy", "--out", plan)
    for args in (["evaluate", "latency-googlenet-small-s0", plan], ["solvers"],
                 ["gap", TINY, "--solvers", "greedy,dp,milp", "--time-limit", "20"]):
        out = run(*args, env={"COLUMNS": "80"}).stdout
        assert max(len(line) for line in out.splitlines()) <= 80, args
        assert "…" not in out, args


def test_gap_rounds_its_title_and_shows_0_for_optimal():
    o = json.loads(run("gap", TINY, "--solvers", "greedy,milp", "--time-limit", 20,
                       "--json").stdout)
    milp = next(r for r in o["rows"] if r["solver"] == "milp")
    assert milp["gap_pct"] == 0.0, milp["message"]
    title = run("gap", TINY, "--solvers", "greedy,milp", "--time-limit", 20).stdout
    assert f"proven bound {o['bound']:.6g}" in " ".join(title.split())  # wrapped title


# --- 16-18. strict instances --------------------------------------------------------------
def _mutate(path: str, value):
    data = json.loads(library_path(TINY).read_text())
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    node[keys[-1]] = value
    return data


@pytest.mark.parametrize("path, value, words", [
    ("servers.0.ghz", True, "servers[0].ghz: must be a number, not true"),
    ("servers.0.memory_mb", True, "servers[0].memory_mb: must be a number, not true"),
    ("tasks.0.release_s", True, "tasks[0].release_s: must be a number, not true"),
    ("models.alexnet.layers.0.gcycles", "1.5", 'must be a number, not "1.5"'),
    ("servers.0.j_per_gcycle", "1.5", 'must be a number, not "1.5"'),
    ("servers.0.pools", 2.5, "servers[0].pools: must be an integer, not 2.5"),
    ("models.alexnet.layers.0.out_mb", 1e308, "out_mb: must be greater than or equal to 0 "
                                              "and at most 1e+09, got 1e+308"),
    ("tasks.0.release_s", 1e30, "release_s: must be greater than or equal to 0"),
    ("models.alexnet.layers.0.param_mb", 1e30, "param_mb"),
    ("servers.0.ghz", float("inf"), "servers[0].ghz"),
    ("servers.0.ghz", 2300, "looks like MHz"),
    ("objective.return_output", 1, "must be true or false, not 1"),
])
def test_strict_numbers_and_ranges(path, value, words):
    with pytest.raises(InstanceError) as err:
        parse_instance(_mutate(path, value), "x.json")
    assert words in str(err.value)


def test_an_integer_may_stand_for_a_float():
    inst = parse_instance(_mutate("servers.0.ghz", 2), "x.json")
    assert inst.servers[0].ghz == 2.0 and isinstance(inst.servers[0].ghz, float)


@pytest.mark.parametrize("swap", [False, True])
def test_a_link_listed_twice_names_both(swap):
    data = json.loads(library_path(TINY).read_text())
    twin = copy.deepcopy(data["links"][0])
    if swap:
        twin["a"], twin["b"] = twin["b"], twin["a"]
    data["links"].append(twin)
    with pytest.raises(InstanceError) as err:
        parse_instance(data, "x.json")
    assert f"links[{len(data['links']) - 1}]" in str(err.value)
    assert "links[0] already joins" in str(err.value)


def test_plan_names_must_be_strings(tmp_path):
    plan = tmp_path / "plan.json"
    run("solve", TINY, "--solver", "greedy", "--out", plan)
    data = json.loads(plan.read_text())
    task = next(iter(data["assignment"]))
    layer = next(iter(data["assignment"][task]))
    data["assignment"][task][layer] = ["edge1"]
    plan.write_text(json.dumps(data))
    assert "must be a server name" in error("evaluate", TINY, plan)


def test_milp_after_another_highs_model_in_the_same_process():
    """HiGHS keeps one thread scheduler per process; a model solved through pyomo's
    interface first (as `tmoa` does) must not make the MILP fail."""
    import pyomo.environ as pe

    from offloadlab.formulations.makespan import highs_solve

    m = pe.ConcreteModel()
    m.x = pe.Var(domain=pe.Binary)
    m.obj = pe.Objective(expr=m.x)
    highs_solve(m, 5.0)  # default threads
    sol = ol.solve(problem(), "milp", time_limit_s=20)
    assert sol.status == "optimal", sol.message


@pytest.mark.parametrize("value, words", [("-1", "not in the range x>=0"),
                                          ("nan", "not a finite number")])
def test_upload_tail_must_be_finite_and_non_negative(value, words):
    from click.testing import CliRunner

    from offloadlab.cli import main

    res = CliRunner().invoke(main, ["upload", "latency-alexnet-tiny-s0", "--planner", "lmu",
                                    "--tail", value])
    assert res.exit_code == 2 and words in res.output and res.exception.__class__ is SystemExit


@pytest.mark.parametrize("args", [["solve", "{dir}", "--solver", "greedy"],
                                  ["bench", "run", "{dir}"],
                                  ["evaluate", TINY, "{file}"]])
def test_a_directory_or_a_binary_file_for_a_json_file_is_one_line(args, tmp_path):
    binary = tmp_path / "plan.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    args = [a.format(dir=tmp_path, file=binary) for a in args]
    assert error(*args).endswith(("a directory, not a file", "not a text file (UTF-8)"))


def test_every_benchmark_script_answers_help_and_writes_nothing(tmp_path):
    """``--help`` is help, not an output directory named ``--help``."""
    from pathlib import Path

    import offloadlab.benchmarks as bench

    scripts = sorted(p.stem for p in Path(bench.__file__).parent.glob("*.py")
                     if '__name__ == "__main__"' in p.read_text())
    assert len(scripts) >= 20
    procs = {s: subprocess.Popen([sys.executable, "-m", f"offloadlab.benchmarks.{s}", "--help"],
                                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for s in scripts}
    for script, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.lower().startswith("usage:"), (script, err)
    assert list(tmp_path.iterdir()) == []


def test_a_figure_script_makes_its_results_folder(tmp_path):
    """Hours of runs are not lost to a folder that does not exist yet."""
    out = tmp_path / "new" / "fig17"
    proc = subprocess.run([sys.executable, "-m", "offloadlab.benchmarks.eosdnn_fig17", str(out),
                           "--model", "alexnet", "--tasks", "2", "--seeds", "1",
                           "--budget-evals", "2000", "--exact-max-layers", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == {"fig17.csv", "fig17-alexnet.png"}
