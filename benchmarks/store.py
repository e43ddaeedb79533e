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
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT key FROM runs WHERE key IN ({marks})"
            if retry_errors:
                sql += " AND status != 'error'"
            found.update(r[0] for r in self.db.execute(sql, part))
        return found

    def put(self, job: dict, result: dict) -> None:
        """Store one finished run (replacing a previous row of the same key) and commit."""
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
        sql, args = "SELECT rowid AS row_id, * FROM runs", []
        if suite is not None:
            sql, args = sql + " WHERE suite = ?", [suite]
        cur = self.db.execute(sql + " ORDER BY instance, solver, seed", args)
        names = [d[0] for d in cur.description]
        wanted = None if keys is None else set(keys)
        out = []
        for rec in cur:
            row = dict(zip(names, rec))
            if wanted is not None and row["key"] not in wanted:
                continue
            for k in JSON_COLUMNS:
                row[k] = None if row[k] is None else json.loads(row[k])
            out.append(row)
        return out

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

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
