"""The results store: one SQLite row per run, committed as soon as the run finishes.

A row is identified by its ``key`` (instance name and content hash, solver, parameters
with budgets, seed, code version; see :func:`~offloadlab.benchmarks.suite.job_key`), so a
rerun finds the runs already done and an interrupted run resumes where it stopped. Only
the runner's parent process writes; a run that raised is stored with status ``error``
and its error text.

Resolved choices:

* The bound used for gaps is the best (largest) proven lower bound over every row of the
  same instance file (name and content hash), whatever solver or code version proved it;
  a row with status ``optimal`` proves its own objective.
* "Best known" is the smallest finite objective over every row of the instance.

Multi-objective runs (pareto jobs) go to a second table, ``fronts``: one row per
(instance, objectives, algorithm, budget, seed, code version) with the front (JSON), its
hypervolume and reference point, front size, evaluations, wall and CPU seconds. The exact
front of an (instance, objectives) pair is a row of its own (``algorithm = 'exact'``,
no seed). A front's HV ratio and IGD+ are stored against the most recent proven exact
front of the same instance content and objectives (``reference = 'exact front'``), filled
in when the front or that exact front is stored, whichever comes last; without one they
stay empty here, and the report compares with the union of the fronts found.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path

DEFAULT_DB = Path("results") / "offloadlab.sqlite"

COLUMNS = {
    "key": "TEXT PRIMARY KEY",
    "instance": "TEXT NOT NULL", "instance_sha": "TEXT NOT NULL", "instance_path": "TEXT",
    "kind": "TEXT", "n_tasks": "INTEGER", "n_layers": "INTEGER", "n_servers": "INTEGER",
    "solver": "TEXT NOT NULL", "label": "TEXT", "params": "TEXT NOT NULL",
    "seed": "INTEGER", "time_limit_s": "REAL", "budget_evals": "INTEGER",
    "code_version": "TEXT NOT NULL", "suite": "TEXT",
    "status": "TEXT NOT NULL", "objective": "REAL", "bound": "REAL", "bound_source": "TEXT",
    "wall_s": "REAL", "job_wall_s": "REAL", "evaluations": "INTEGER",
    "history": "TEXT", "plan": "TEXT", "message": "TEXT", "error": "TEXT",
    "host": "TEXT", "finished_at": "REAL",
}
JSON_COLUMNS = ("params", "history", "plan")
FRONT_COLUMNS = {
    "key": "TEXT PRIMARY KEY",
    "instance": "TEXT NOT NULL", "instance_sha": "TEXT NOT NULL", "instance_path": "TEXT",
    "kind": "TEXT", "n_tasks": "INTEGER", "n_layers": "INTEGER", "n_servers": "INTEGER",
    "algorithm": "TEXT NOT NULL", "label": "TEXT", "objectives": "TEXT NOT NULL",
    "seed": "INTEGER", "budget_evals": "INTEGER", "time_limit_s": "REAL",
    "code_version": "TEXT NOT NULL", "suite": "TEXT", "status": "TEXT NOT NULL",
    "hv": "REAL", "reference_point": "TEXT", "hv_ratio": "REAL", "igd_plus": "REAL",
    "reference": "TEXT", "front_size": "INTEGER", "front": "TEXT",
    "evaluations": "INTEGER", "wall_s": "REAL", "cpu_s": "REAL", "job_wall_s": "REAL",
    "proven": "INTEGER", "method": "TEXT", "solves": "INTEGER",
    "message": "TEXT", "error": "TEXT", "host": "TEXT", "finished_at": "REAL",
}
FRONT_JSON_COLUMNS = ("reference_point", "front")
EXACT_LABEL = "exact front"
_TOL = 1e-6


class Store:
    """A results database (created on first use).

    Parameters
    ----------
    path : str or Path
        The SQLite file; its folder is created when missing.
    """

    def __init__(self, path: str | Path = DEFAULT_DB):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        cols = ", ".join(f"{k} {v}" for k, v in COLUMNS.items())
        self.db.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
        self.db.execute("CREATE INDEX IF NOT EXISTS runs_instance ON runs(instance, "
                        "instance_sha)")
        cols = ", ".join(f"{k} {v}" for k, v in FRONT_COLUMNS.items())
        self.db.execute(f"CREATE TABLE IF NOT EXISTS fronts ({cols})")
        self.db.execute("CREATE INDEX IF NOT EXISTS fronts_pair ON fronts(instance, "
                        "instance_sha, objectives)")
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def done_keys(self, keys, retry_errors: bool = False) -> set[str]:
        """Which of ``keys`` already have a row (errors excluded with ``retry_errors``)."""
        keys = list(keys)
        found: set[str] = set()
        for table in ("runs", "fronts"):
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                marks = ",".join("?" * len(part))
                sql = f"SELECT key FROM {table} WHERE key IN ({marks})"
                if retry_errors:
                    sql += " AND status != 'error'"
                found.update(r[0] for r in self.db.execute(sql, part))
        return found

    def put(self, job: dict, result: dict) -> None:
        """Store one finished run (replacing a previous row of the same key) and commit;
        a pareto job's goes to the ``fronts`` table (:meth:`put_front`)."""
        if job.get("type") == "pareto":
            self.put_front(job, result)
            return
        row = {k: job.get(k) for k in COLUMNS}
        row.update({k: result.get(k) for k in COLUMNS if k in result})
        row["params"] = job["params"]
        row["finished_at"] = time.time()
        for k in JSON_COLUMNS:
            row[k] = None if row[k] is None else json.dumps(_jsonable(row[k]))
        for k in ("objective", "bound"):
            if row[k] is not None and not math.isfinite(row[k]):
                row[k] = None
        names = ", ".join(row)
        marks = ", ".join("?" * len(row))
        self.db.execute(f"INSERT OR REPLACE INTO runs ({names}) VALUES ({marks})",
                        list(row.values()))
        self.db.commit()

    def rows(self, keys=None, suite: str | None = None) -> list[dict]:
        """Rows as dicts (JSON columns decoded), optionally only ``keys`` or a suite."""
        return self._select("runs", "instance, solver, seed", JSON_COLUMNS, keys, suite)

    def _select(self, table: str, order: str, json_columns, keys, suite) -> list[dict]:
        """Rows of ``table`` as dicts with ``json_columns`` decoded, optionally only
        ``keys`` or a suite."""
        sql, args = f"SELECT rowid AS row_id, * FROM {table}", []
        if suite is not None:
            sql, args = sql + " WHERE suite = ?", [suite]
        cur = self.db.execute(f"{sql} ORDER BY {order}", args)
        names = [d[0] for d in cur.description]
        wanted = None if keys is None else set(keys)
        out = []
        for rec in cur:
            row = dict(zip(names, rec))
            if wanted is not None and row["key"] not in wanted:
                continue
            for k in json_columns:
                row[k] = None if row[k] is None else json.loads(row[k])
            out.append(row)
        return out

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def suites(self) -> list[str]:
        """The suite names of the stored runs and fronts, sorted."""
        return sorted(r[0] for r in self.db.execute(
            "SELECT suite FROM runs UNION SELECT suite FROM fronts") if r[0] is not None)

    # --- multi-objective fronts ---------------------------------------------------------
    def put_front(self, job: dict, result: dict) -> None:
        """Store one finished pareto job with, where a proven exact front of its instance
        and objectives is stored, its HV ratio and IGD+ against it; an exact front
        stored fills them in for the fronts stored before it. Commits."""
        row = {k: job.get(k) for k in FRONT_COLUMNS}
        row.update({k: result.get(k) for k in FRONT_COLUMNS if k in result})
        row["objectives"] = ",".join(job["objectives"])
        row["finished_at"] = time.time()
        if row["proven"] is not None:
            row["proven"] = int(bool(row["proven"]))
        for k in FRONT_JSON_COLUMNS:
            row[k] = None if row[k] is None else json.dumps(_jsonable(row[k]))
        names = ", ".join(row)
        self.db.execute(f"INSERT OR REPLACE INTO fronts ({names}) VALUES "
                        f"({', '.join('?' * len(row))})", list(row.values()))
        self._fill_exact(row["instance"], row["instance_sha"], row["objectives"],
                         only=None if row["algorithm"] == "exact" else row["key"])
        self.db.commit()

    def fronts(self, keys=None, suite: str | None = None) -> list[dict]:
        """Rows of the ``fronts`` table as dicts (JSON decoded, ``objectives`` a list),
        optionally only ``keys`` or a suite."""
        out = self._select("fronts", "instance, objectives, algorithm, seed",
                           FRONT_JSON_COLUMNS, keys, suite)
        for row in out:
            row["objectives"] = row["objectives"].split(",")
        return out

    def exact_front(self, instance: str, instance_sha: str, objectives: str | list):
        """The most recent proven exact front of an instance content and objective set
        (a list of points), or None."""
        if not isinstance(objectives, str):
            objectives = ",".join(objectives)
        got = self.db.execute(
            "SELECT front FROM fronts WHERE instance = ? AND instance_sha = ? AND "
            "objectives = ? AND algorithm = 'exact' AND proven = 1 AND front IS NOT NULL "
            "ORDER BY finished_at DESC, rowid DESC LIMIT 1",
            (instance, instance_sha, objectives)).fetchone()
        return None if got is None else json.loads(got[0])

    def _fill_exact(self, instance: str, sha: str, objectives: str, only: str | None):
        """Set HV ratio and IGD+ against the exact front on the pair's fronts (``only``:
        just that row)."""
        exact = self.exact_front(instance, sha, objectives)
        if exact is None:
            return
        sql = ("SELECT key, front, reference_point FROM fronts WHERE instance = ? AND "
               "instance_sha = ? AND objectives = ? AND front IS NOT NULL AND "
               "reference_point IS NOT NULL")
        args = [instance, sha, objectives]
        if only is not None:
            sql, args = sql + " AND key = ?", args + [only]
        for key, front, ref in self.db.execute(sql, args).fetchall():
            ind = front_indicators(json.loads(front), json.loads(ref), exact)
            self.db.execute("UPDATE fronts SET hv_ratio = ?, igd_plus = ?, reference = ? "
                            "WHERE key = ?", (ind["hv_ratio"], ind["igd_plus"],
                                              EXACT_LABEL, key))

    def references(self) -> dict[tuple[str, str], dict]:
        """Per (instance, instance_sha): the best proven bound and the best known objective.

        Returns
        -------
        dict
            ``{"bound", "bound_by", "best", "best_by"}`` per instance; ``bound`` is None
            when no row proves one.
        """
        refs: dict[tuple[str, str], dict] = {}
        cur = self.db.execute("SELECT instance, instance_sha, solver, status, objective, "
                              "bound FROM runs WHERE status != 'error'")
        for inst, sha, solver, status, obj, bound in cur:
            ref = refs.setdefault((inst, sha), {"bound": None, "bound_by": None,
                                                "best": None, "best_by": None})
            proven = bound if bound is not None else (obj if status == "optimal" else None)
            if proven is not None and (ref["bound"] is None or proven > ref["bound"]):
                ref["bound"], ref["bound_by"] = proven, solver
            if obj is not None and (ref["best"] is None or obj < ref["best"]):
                ref["best"], ref["best_by"] = obj, solver
        return refs


def with_gaps(rows: list[dict], refs: dict) -> list[dict]:
    """Add ``ref_bound``, ``gap`` (vs the proven bound) and ``gap_best`` (vs best known).

    ``gap_kind`` says which one a table should show: ``"proven"`` when the instance has a
    proven bound, ``"best known"`` otherwise. ``bound_conflict`` flags a best known
    objective below the proven bound (a wrong bound or a simulator disagreement).
    """
    from offloadlab.solution import relative_gap

    out = []
    for row in rows:
        ref = refs.get((row["instance"], row["instance_sha"]), {})
        bound, best = ref.get("bound"), ref.get("best")
        obj = row["objective"] if row["objective"] is not None else math.inf
        conflict = (bound is not None and best is not None
                    and best < bound - _TOL * max(1.0, abs(bound)))
        out.append(dict(row, ref_bound=bound, ref_bound_by=ref.get("bound_by"),
                        best_known=best, gap=relative_gap(obj, bound),
                        gap_best=relative_gap(obj, best),
                        gap_kind="proven" if bound is not None else "best known",
                        bound_conflict=conflict))
    return out


def front_indicators(front, reference_point, reference) -> dict:
    """HV, HV ratio and IGD+ of ``front`` against the ``reference`` front (exact, or a
    union of fronts): the indicators of ``offloadlab pareto``
    (:func:`~offloadlab.heuristics.moo_commands.indicators`)."""
    import numpy as np

    from offloadlab.heuristics.moo_commands import indicators

    m = len(reference_point)
    return indicators(np.asarray(front, dtype=float).reshape(-1, m),
                      np.asarray(reference_point, dtype=float),
                      np.asarray(reference, dtype=float).reshape(-1, m))


def _jsonable(x):
    """Lists/dicts/numbers with inf and nan as None, numpy as Python."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
