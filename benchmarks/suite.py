"""Benchmark suites: declarative files of instances x solvers x seeds x budgets.

A suite file (``offloadlab.suite/1``, JSON) names instance globs, solvers with their
parameters, seeds and budgets; :func:`load_suite` validates it and :func:`expand` turns it
into the list of :class:`Job` records the runner executes::

    {
      "format": "offloadlab.suite/1",
      "name": "latency",
      "description": "EosDNN migration: heuristics against the exact models",
      "instances": ["latency-*-tiny-s0", "latency-alexnet-small-s0", "my/files/*.json"],
      "seeds": [0, 1, 2],
      "budgets": [{"time_limit_s": 20, "budget_evals": 5000}],
      "solvers": [
        "greedy",
        {"name": "milp", "seeds": [0]},
        {"name": "random", "params": {"batch": 50}, "budgets": [{"budget_evals": 500}]},
        {"name": "mine", "target": "my_package.planner:solve"}
      ]
    }

Resolved choices:

* An instance entry without ``/`` and not ending in ``.json`` is a glob over the names of
  the shared library (``instances/library``); any other entry is a file glob, relative to
  the suite file's folder. Every entry must match at least one file.
* A solver entry is a registered name or a glob over registered names (``"*"`` = every
  registered solver); an entry matching nothing is an error unless it says
  ``"optional": true`` (then it is reported as skipped). ``target``
  (``"module:function"``) benchmarks a solver that is not registered, under ``name``.
* ``seeds`` and ``budgets`` of a solver entry replace the suite's. ``time_limit_s`` and
  ``budget_evals`` at suite level are shorthand for a single budget.
* Solvers whose dependencies are missing are skipped (reported with the extra to install);
  a solver is skipped for instances whose objective kind it does not support.

Multi-objective jobs: a ``pareto`` list of entries, each pymoo algorithms (or ``exact``)
on instances (default: the suite's) for one objective set (default: every objective the
instance's kind defines), seeds and an evaluation budget::

    "pareto": [{"algorithms": ["nsga2", "smsemoa"], "objectives": ["delay", "energy"],
                "instances": ["ddpqn-alexnet-tiny-s0"], "seeds": [0, 1],
                "budget_evals": 2000, "exact_time_limit_s": 60}]

Each seed of each algorithm is one :class:`ParetoJob` (what ``offloadlab pareto`` runs);
the exact front of each (instance, objectives) is one job of its own (algorithm
``exact``, no seed), run first, and the reference of every front of that pair when it is
proven. ``exact_time_limit_s`` 0 asks for no exact front (the reference is then the
union of the fronts found). With ``pareto`` entries, ``solvers`` may be left out.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FORMAT = "offloadlab.suite/1"
SUITES_DIR = Path(__file__).parent / "suites"
# where a suite sets what a solver entry's params may not
SUITE_SETTINGS = {"seed": '"seeds"', "time_limit_s": '"budgets"', "budget_evals": '"budgets"'}


class SuiteError(ValueError):
    """A defect in a suite file, naming the file, the field and the reason."""

    def __init__(self, source: str, path: str, reason: str):
        self.source, self.path, self.reason = source, path, reason
        super().__init__(f"{source}: {path or '<root>'}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    """What one run may spend: seconds and/or simulator evaluations."""

    time_limit_s: Annotated[float, Field(gt=0)] | None = None
    budget_evals: Annotated[int, Field(gt=0)] | None = None


class SolverEntry(_Strict):
    """A solver (name or glob) with its parameters; seeds/budgets override the suite's."""

    name: str = Field(min_length=1)
    target: str | None = Field(None, pattern=r"^[\w.]+:\w+$")
    label: str | None = None
    params: dict = Field(default_factory=dict)
    seeds: list[int] | None = Field(None, min_length=1)
    budgets: list[Budget] | None = Field(None, min_length=1)
    optional: bool = Field(False, description="Skip, not fail, when nothing registered "
                                              "matches the name.")


class ParetoEntry(_Strict):
    """Multi-objective runs: algorithms x seeds on instances for one objective set."""

    algorithms: list[str] = Field(min_length=1)
    objectives: list[str] | None = Field(None, min_length=2, max_length=3)
    instances: list[str] | None = Field(None, min_length=1)
    seeds: list[Annotated[int, Field(ge=0)]] | None = Field(None, min_length=1)
    budget_evals: Annotated[int, Field(gt=0)] | None = None
    exact_time_limit_s: Annotated[float, Field(ge=0)] = Field(
        60.0, description="Seconds for the exact front (0: none; then the reference is "
                          "the union of the fronts found).")
    label: str | None = None


class SuiteSpec(_Strict):
    """The contents of a suite file."""

    format: Literal["offloadlab.suite/1"] = FORMAT
    name: str = Field(min_length=1)
    description: str = ""
    instances: list[str] = Field(min_length=1)
    solvers: list[Union[str, SolverEntry]] = Field(default_factory=list)
    pareto: list[ParetoEntry] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    budgets: list[Budget] | None = Field(None, min_length=1)
    time_limit_s: Annotated[float, Field(gt=0)] | None = None
    budget_evals: Annotated[int, Field(gt=0)] | None = None
    grace_s: Annotated[float, Field(ge=0)] = Field(
        10.0, description="A run is stopped after 1.5 x time_limit_s + grace_s seconds.")

    @model_validator(mode="after")
    def _one_way_of_budgets(self):
        if self.budgets is not None and (self.time_limit_s or self.budget_evals):
            raise ValueError("give either `budgets` or `time_limit_s`/`budget_evals`, "
                             "not both")
        if not self.solvers and not self.pareto:
            raise ValueError("give `solvers` or `pareto` (or both)")
        return self

    def suite_budgets(self) -> list[Budget]:
        if self.budgets is not None:
            return list(self.budgets)
        return [Budget(time_limit_s=self.time_limit_s, budget_evals=self.budget_evals)]


@dataclass(frozen=True)
class Job:
    """One solver run: everything a worker needs, as plain data (picklable).

    ``key`` identifies the row in the results store: the instance (name and content
    hash), solver, parameters (budgets included), seed and code version.
    """

    instance: str
    instance_path: str
    instance_sha: str
    solver: str
    target: str | None
    label: str
    params: dict
    seed: int
    time_limit_s: float | None
    budget_evals: int | None
    kill_after_s: float | None
    code_version: str
    suite: str
    key: str = field(default="")
    kind: str = ""
    n_tasks: int = 0
    n_layers: int = 0
    n_servers: int = 0

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class ParetoJob:
    """One multi-objective run (a front by ``algorithm``, or the exact front), as plain
    data; ``key`` identifies its row in the store's ``fronts`` table.

    ``seed`` is None for the exact front (``algorithm == "exact"``), which is computed
    once per instance, objective set and ``time_limit_s``.
    """

    instance: str
    instance_path: str
    instance_sha: str
    algorithm: str
    objectives: tuple[str, ...]
    seed: int | None
    budget_evals: int | None
    time_limit_s: float | None
    kill_after_s: float | None
    code_version: str
    suite: str
    label: str
    key: str = field(default="")
    kind: str = ""
    n_tasks: int = 0
    n_layers: int = 0
    n_servers: int = 0
    type: str = "pareto"

    def as_dict(self) -> dict:
        from dataclasses import asdict

        out = asdict(self)
        out["objectives"] = list(self.objectives)
        return out


@dataclass
class Suite:
    """A validated suite: the spec, where it came from, and its resolved parts."""

    spec: SuiteSpec
    source: str
    instance_paths: list[Path]
    solvers: list[tuple[SolverEntry, str]]  # (entry, resolved registered/target name)
    missing: list[str] = field(default_factory=list)  # optional entries not registered
    # per pareto entry: (entry, [(instance file, objective names)])
    pareto: list[tuple[ParetoEntry, list[tuple[Path, tuple[str, ...]]]]] = field(
        default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name


def builtin_suites() -> dict[str, Path]:
    """Built-in suite names and files (``benchmarks/suites/*.json``)."""
    return {p.stem: p for p in sorted(SUITES_DIR.glob("*.json"))}


def suite_path(ref: str | Path) -> Path:
    """A suite file from a path or a built-in suite name."""
    path = Path(ref)
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            raise SuiteError(str(path), "", "no such suite file")
        return path
    suites = builtin_suites()
    if str(ref) not in suites:
        raise SuiteError(str(ref), "", "neither a file nor a built-in suite (built-in: "
                         + ", ".join(suites) + ")")
    return suites[str(ref)]


def load_suite(ref: str | Path) -> Suite:
    """Read and validate a suite file (a path or a built-in name).

    Raises
    ------
    SuiteError
        Unknown keys, wrong types, instance globs matching nothing, unknown solver names,
        naming the file and the field.
    """
    from offloadlab.instance import read_json

    path = suite_path(ref)
    return parse_suite(read_json(path, SuiteError), source=str(path), base_dir=path.parent)


def parse_suite(raw: dict, source: str = "<suite>", base_dir: Path | None = None) -> Suite:
    """Validate a suite given as a dict; see :func:`load_suite`."""
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        # the deepest error is the telling one (a solver entry is a string or an object)
        err = max(exc.errors(), key=lambda e: len(e["loc"]))
        reason = err["msg"] if err["type"] != "extra_forbidden" else "unknown key"
        raise SuiteError(source, _json_path(err["loc"]), reason) from None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    paths = _resolve_instances(spec.instances, source, base)
    solvers, missing = _resolve_solvers(spec, source)
    pareto = [(entry, _resolve_pareto(entry, f"pareto[{i}]", paths, source, base))
              for i, entry in enumerate(spec.pareto)]
    return Suite(spec, source, paths, solvers, missing, pareto)


def _json_path(loc) -> str:
    out = ""
    for part in loc:
        if part in ("str", "SolverEntry"):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _resolve_instances(patterns: list[str], source: str, base: Path,
                       where: str = "instances") -> list[Path]:
    from offloadlab.instances.library import LIBRARY_DIR

    out: list[Path] = []
    for i, pattern in enumerate(patterns):
        if "/" in pattern or pattern.endswith(".json"):
            full = pattern if Path(pattern).is_absolute() else str(base / pattern)
            hits = sorted(Path(p) for p in glob.glob(full))
        else:
            hits = sorted(LIBRARY_DIR.glob(f"{pattern}.json"))
        if not hits:
            what = "files" if "/" in pattern or pattern.endswith(".json") else \
                f"library instances in {LIBRARY_DIR}"
            raise SuiteError(source, f"{where}[{i}]", f"{pattern!r} matches no {what}")
        out.extend(h for h in hits if h not in out)
    return out


def _resolve_solvers(spec: SuiteSpec, source: str):
    from offloadlab.registry import SOLVERS, SolverError, check_params

    out, missing = [], []
    for i, item in enumerate(spec.solvers):
        entry = SolverEntry(name=item) if isinstance(item, str) else item
        if entry.target:
            out.append((entry, entry.name))
            continue
        names = [n for n in SOLVERS if fnmatch.fnmatchcase(n, entry.name)]
        if not names and entry.optional:
            missing.append(entry.name)
        elif not names:
            raise SuiteError(source, f"solvers[{i}]", f"unknown solver {entry.name!r}; "
                             f"registered: {', '.join(sorted(SOLVERS))}")
        for n in names:  # the same parameter check as `offloadlab solve --param`
            try:
                check_params(n, entry.params, SUITE_SETTINGS)
            except SolverError as exc:
                raise SuiteError(source, f"solvers[{i}].params", str(exc)) from None
        out.extend((entry, n) for n in names)
    return out, missing


def _resolve_pareto(entry: ParetoEntry, where: str, suite_paths: list[Path], source: str,
                    base: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """The (instance file, objective names) pairs of a pareto entry, checked: known
    algorithms, known objectives, each defined by every instance's kind."""
    from offloadlab.formulations.pareto import (OBJECTIVES, defined_objectives,
                                                objective_columns)
    from offloadlab.heuristics.moo import ALGORITHMS
    from offloadlab.instance import InstanceError, load_instance
    from offloadlab.problem import Problem

    for j, name in enumerate(entry.algorithms):
        if name not in (*ALGORITHMS, "exact"):
            raise SuiteError(source, f"{where}.algorithms[{j}]", f"unknown algorithm "
                             f"{name!r}; known: {', '.join((*ALGORITHMS, 'exact'))}")
    if "exact" in entry.algorithms and entry.exact_time_limit_s == 0:
        raise SuiteError(source, f"{where}.exact_time_limit_s",
                         "must be > 0 when the algorithms include exact")
    for j, name in enumerate(entry.objectives or ()):
        if name not in OBJECTIVES:
            raise SuiteError(source, f"{where}.objectives[{j}]", f"unknown objective "
                             f"{name!r}; known: {', '.join(OBJECTIVES)}")
    paths = (suite_paths if entry.instances is None else
             _resolve_instances(entry.instances, source, base, f"{where}.instances"))
    out = []
    for path in paths:
        try:
            problem = Problem.from_instance(load_instance(path))
        except InstanceError as exc:
            raise SuiteError(source, f"{where}.instances", str(exc)) from None
        names = tuple(entry.objectives or defined_objectives(problem))
        try:
            objective_columns(problem, names)
        except ValueError as exc:
            raise SuiteError(source, f"{where}.objectives",
                             f"{problem.instance.name}: {exc}") from None
        out.append((path, names))
    return out


def canonical(obj) -> str:
    """Canonical JSON (sorted keys, no spaces) used for parameters and keys."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def job_key(instance: str, instance_sha: str, solver: str, params: dict, seed: int,
            code_version: str) -> str:
    """The store's identity of a run."""
    text = canonical([instance, instance_sha, solver, params, seed, code_version])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def file_sha(path: Path) -> str:
    """Short content hash of an instance file (a changed file is a new instance)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Skipped:
    """A solver left out of a suite run, and why."""

    solver: str
    reason: str
    instances: int = 0


def expand(suite: Suite, code_version: str
           ) -> tuple[list[Job | ParetoJob], list[Skipped]]:
    """All jobs of ``suite`` (instances x solvers x seeds x budgets, then the pareto
    entries' jobs) and the skipped solvers.

    A solver whose dependencies are missing is skipped with the extra that installs it;
    one that does not support an instance's objective kind is skipped for that instance.
    The exact fronts come first in the list (they are the other fronts' reference), the
    pareto algorithms' runs last.
    """
    from offloadlab.registry import SOLVERS, SolverError, get_solver

    headers = ([(p, _instance_header(p, suite.source)) for p in suite.instance_paths]
               if suite.solvers else [])
    jobs: list[Job] = []
    skipped = {name: Skipped(name, "optional entry: matched no registered solver")
               for name in suite.missing}
    seen: set[str] = set()
    for entry, name in suite.solvers:
        if not entry.target:
            try:
                get_solver(name)
            except SolverError as exc:
                skipped[name] = Skipped(name, str(exc))
                continue
        kinds = SOLVERS[name].kinds if not entry.target else None
        for path, head in headers:
            if kinds is not None and head["kind"] not in kinds:
                reason = f"supports only the objective kinds {', '.join(kinds)}"
                old = skipped.get(name, Skipped(name, reason))
                skipped[name] = Skipped(name, old.reason, old.instances + 1)
                continue
            for job in _entry_jobs(suite, entry, name, path, head, code_version):
                if job.key not in seen:
                    seen.add(job.key)
                    jobs.append(job)
    exact, searches = _pareto_jobs(suite, code_version, skipped)
    return (_unique(exact, seen) + jobs + _unique(searches, seen),
            list(skipped.values()))


def _unique(jobs: list, seen: set[str]) -> list:
    """``jobs`` whose keys are not in ``seen`` (added to it), first of each key."""
    out = []
    for job in jobs:
        if job.key not in seen:
            seen.add(job.key)
            out.append(job)
    return out


def _pareto_jobs(suite: Suite, code_version: str, skipped: dict
                 ) -> tuple[list[ParetoJob], list[ParetoJob]]:
    """The exact-front jobs and the algorithm runs of the suite's pareto entries (an
    algorithm is skipped when pymoo is missing)."""
    import importlib.util

    has_pymoo = importlib.util.find_spec("pymoo") is not None
    heads: dict[Path, dict] = {}
    exact, searches = [], []
    for entry, pairs in suite.pareto:
        for path, names in pairs:
            if path not in heads:
                heads[path] = _instance_header(path, suite.source)
            head = heads[path]
            common = dict(instance=head["name"], instance_path=str(Path(path).resolve()),
                          instance_sha=head["sha"], objectives=tuple(names),
                          code_version=code_version, suite=suite.spec.name,
                          kind=head["kind"], n_tasks=head["n_tasks"],
                          n_layers=head["n_layers"], n_servers=head["n_servers"])
            limit = entry.exact_time_limit_s
            if limit > 0:
                params = {"objectives": list(names), "exact_time_limit_s": limit}
                exact.append(ParetoJob(
                    algorithm="exact", seed=None, budget_evals=None, time_limit_s=limit,
                    kill_after_s=1.5 * limit + suite.spec.grace_s, label="exact",
                    key=job_key(head["name"], head["sha"], "pareto:exact", params, 0,
                                code_version), **common))
            for alg in entry.algorithms:
                if alg == "exact":
                    continue
                if not has_pymoo:
                    old = skipped.get(f"pareto {alg}", Skipped(
                        f"pareto {alg}", "needs pymoo: pip install 'offloadlab[moo]'"))
                    skipped[old.solver] = Skipped(old.solver, old.reason, old.instances + 1)
                    continue
                params = {"objectives": list(names), "budget_evals": entry.budget_evals}
                for seed in entry.seeds or suite.spec.seeds:
                    searches.append(ParetoJob(
                        algorithm=alg, seed=seed, budget_evals=entry.budget_evals,
                        time_limit_s=None, kill_after_s=None, label=entry.label or alg,
                        key=job_key(head["name"], head["sha"], f"pareto:{alg}", params,
                                    seed, code_version), **common))
    return exact, searches


def _entry_jobs(suite, entry, name, path, head, code_version):
    spec = suite.spec
    inst_name, sha = head["name"], head["sha"]
    for budget in entry.budgets or spec.suite_budgets():
        for seed in entry.seeds or spec.seeds:
            key_params = dict(entry.params, time_limit_s=budget.time_limit_s,
                              budget_evals=budget.budget_evals)
            if entry.target:
                key_params["target"] = entry.target
            kill = (None if budget.time_limit_s is None
                    else 1.5 * budget.time_limit_s + spec.grace_s)
            yield Job(inst_name, str(Path(path).resolve()), sha, name, entry.target,
                      entry.label or solver_label(name, entry.params), dict(entry.params),
                      seed, budget.time_limit_s, budget.budget_evals, kill, code_version,
                      spec.name, job_key(inst_name, sha, name, key_params, seed,
                                         code_version),
                      head["kind"], head["n_tasks"], head["n_layers"], head["n_servers"])


def solver_label(name: str, params: dict) -> str:
    """``name`` or ``name[k=v,...]`` for display."""
    if not params:
        return name
    return name + "[" + ",".join(f"{k}={canonical(v)}" for k, v in sorted(params.items())) + "]"


def _instance_header(path: Path, source: str) -> dict:
    """Name, objective kind, sizes and content hash of an instance file, validated."""
    from offloadlab.instance import InstanceError, load_instance

    try:
        inst = load_instance(path)
    except InstanceError as exc:
        raise SuiteError(source, "instances", str(exc)) from None
    n_layers = sum(len(inst.models[t.model].layers) for t in inst.tasks)
    return {"name": inst.name, "kind": inst.objective.kind, "sha": file_sha(path),
            "n_tasks": len(inst.tasks), "n_layers": n_layers,
            "n_servers": len(inst.servers)}


def unmatched_entries(ref: str | Path) -> list[str]:
    """The optional solver entries of a suite that match no registered solver (empty
    when the suite cannot be loaded)."""
    try:
        return load_suite(ref).missing
    except (SuiteError, OSError):
        return []


def with_time_limit(suite: Suite, time_limit_s: float) -> Suite:
    """``suite`` with every budget's ``time_limit_s`` (suite and solver entries) and the
    pareto entries' ``exact_time_limit_s`` (where not 0) replaced."""

    def fix(budgets):
        if budgets is None:
            return None
        return [b.model_copy(update={"time_limit_s": time_limit_s}) for b in budgets]

    spec = suite.spec
    spec = spec.model_copy(update={"budgets": fix(spec.suite_budgets()), "time_limit_s": None,
                                   "budget_evals": None})
    solvers = [(e.model_copy(update={"budgets": fix(e.budgets)}), n) for e, n in suite.solvers]
    pareto = [(e if not e.exact_time_limit_s else
               e.model_copy(update={"exact_time_limit_s": time_limit_s}), pairs)
              for e, pairs in suite.pareto]  # the exact fronts' limit; searches have none
    return Suite(spec, suite.source, suite.instance_paths, solvers, suite.missing, pareto)
