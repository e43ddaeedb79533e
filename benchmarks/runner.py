"""Run a suite's jobs on a local process pool or a Dask cluster, storing each as it ends.

The parent process expands the suite, skips the jobs the store already holds, sends the
rest to workers and commits every finished job at once: killing the runner loses only
the jobs in flight, and the next run does just those. A worker reads the instance, calls
the solver by name and returns a plain record (:func:`run_job`); it never raises: a
failing job comes back with status ``error`` and its error text. A local worker reads the
instance file by path; a Dask job carries the file's content instead (scattered once per
distinct content, checked against the job's ``instance_sha``), so that a worker on
another machine, or in another directory, runs it.

Time limits: each solver gets its ``time_limit_s`` and must stop within
``1.1 x time_limit_s + 2`` seconds (model building and child processes included); a job
that takes longer is stored with its overrun in ``message`` and counted in the run's
summary. On the local pool a job that runs past
``1.5 x time_limit_s + grace_s`` is interrupted (SIGALRM in the worker) and stored as an
error. Dask runs tasks in worker threads, where no signal can interrupt them: there the
solver's own limit is all there is, and the store's ``job_wall_s`` shows any overrun.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .store import DEFAULT_DB, Store
from .suite import Job, Skipped, Suite, expand, load_suite


class ClusterError(RuntimeError):
    """The Dask scheduler of ``--dask`` cannot be reached (or its address is malformed)."""


class JobTimeout(BaseException):
    """Raised inside a worker when a job passes its hard limit (not an Exception, so a
    solver's ``except Exception`` cannot swallow it)."""


# --- the worker side -------------------------------------------------------------------
def run_job(job: dict, instance_bytes: bytes | None = None) -> dict:
    """Run one job (a :meth:`Job.as_dict` record) and return its result record.

    ``instance_bytes``, when given, is the instance file's content (whose hash must be
    the job's ``instance_sha``); the path is then only a label.

    Never raises for a failing solver: the record then has status ``error`` and the
    error text (exception type, message and the last traceback lines).
    """
    started = time.perf_counter()
    out = {"host": socket.gethostname(), "status": "error"}
    try:
        with _hard_limit(job.get("kill_after_s")):
            run = _front if job.get("type") == "pareto" else _solve
            out.update(run(job, instance_bytes))
    except (Exception, JobTimeout) as exc:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["message"] = "".join(tb[-3:])[-2000:]
    out["job_wall_s"] = time.perf_counter() - started
    over = overrun(job.get("time_limit_s"), out["job_wall_s"])
    if over:
        out["message"] = over + ("; " + out["message"] if out.get("message") else "")
    return out


def overrun(time_limit_s: float | None, wall_s: float) -> str:
    """A note when ``wall_s`` passes ``1.1 x time_limit_s + 2`` seconds, else ''."""
    if time_limit_s is None or wall_s <= 1.1 * time_limit_s + 2.0:
        return ""
    return f"overran its time limit: {wall_s:.1f} s for {time_limit_s:g} s"


def _solve(job: dict, instance_bytes: bytes | None = None) -> dict:
    from offloadlab.problem import Problem
    from offloadlab.solution import Solution

    problem = Problem.from_instance(_instance(job, instance_bytes))
    fn = _solver_function(job)
    sol = fn(problem, seed=job["seed"], time_limit_s=job["time_limit_s"],
             budget_evals=job["budget_evals"], **job["params"])
    if not isinstance(sol, Solution):
        raise TypeError(f"solver {job['solver']!r} returned {type(sol).__name__}, "
                        "not a Solution")
    return dict(status=sol.status, objective=sol.objective, bound=sol.bound,
                bound_source=sol.bound_source, wall_s=sol.wall_s,
                evaluations=sol.evaluations, history=[list(h) for h in sol.history],
                plan=None if sol.assign is None else sol.assign.tolist(),
                message=sol.message)


def _front(job: dict, instance_bytes: bytes | None = None) -> dict:
    """A pareto job: :func:`~offloadlab.heuristics.moo_commands.run_pareto` (what
    ``offloadlab pareto`` runs) without an exact front for the algorithms, since the
    store computes that once per instance and objective set (``algorithm == "exact"``).
    An instance with no exact method gives status ``no exact front``, not an error."""
    from offloadlab.formulations.pareto import ParetoError
    from offloadlab.heuristics.moo_commands import run_pareto
    from offloadlab.problem import Problem

    problem = Problem.from_instance(_instance(job, instance_bytes))
    exact = job["algorithm"] == "exact"
    cpu_started = time.process_time()
    try:
        out = run_pareto(problem, job["algorithm"], job["objectives"], seed=job["seed"] or 0,
                         budget_evals=job["budget_evals"],
                         exact_time_limit_s=job["time_limit_s"] if exact else 0.0)
    except ParetoError as exc:
        return {"status": "no exact front", "message": str(exc),
                "cpu_s": time.process_time() - cpu_started}
    info = out["exact"] or {}
    return {"status": "ok" if not exact or info.get("proven") else "not proven",
            "front": out["front"], "hv": out["hv"], "reference_point": out["reference_point"],
            "front_size": len(out["front"]), "evaluations": out["evaluations"],
            "wall_s": out["wall_s"], "cpu_s": time.process_time() - cpu_started,
            "proven": info.get("proven") if exact else None,
            "method": info.get("method"), "solves": info.get("solves")}


def _instance(job: dict, instance_bytes: bytes | None):
    """The job's instance: parsed from ``instance_bytes`` when given, else loaded from
    its path."""
    import hashlib
    import json

    from offloadlab.instance import load_instance, parse_instance

    if instance_bytes is None:
        return load_instance(job["instance_path"])
    sha = hashlib.sha256(instance_bytes).hexdigest()[:16]
    if sha != job["instance_sha"]:
        raise ValueError(f"{job['instance_path']}: the content sent has hash {sha}, the "
                         f"job expects {job['instance_sha']}")
    return parse_instance(json.loads(instance_bytes), job["instance_path"])


def _solver_function(job: dict):
    import importlib

    from offloadlab.registry import get_solver

    if not job.get("target"):
        return get_solver(job["solver"])
    module, func = job["target"].split(":")
    return getattr(importlib.import_module(module), func)


@contextmanager
def _hard_limit(seconds: float | None):
    """Raise :class:`JobTimeout` after ``seconds`` (main thread of a POSIX process only)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _stop(signum, frame):
        raise JobTimeout(f"stopped after the hard limit of {seconds:.1f} s "
                         "(1.5 x time_limit_s + grace_s)")

    old = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --- the parent side -------------------------------------------------------------------
def code_version() -> str:
    """The package version plus the short git commit (``.dirty`` with local changes);
    just the version outside a git checkout. ``OFFLOADLAB_CODE_VERSION`` overrides it
    (to pin a campaign to one version)."""
    from offloadlab import __version__

    if os.environ.get("OFFLOADLAB_CODE_VERSION"):
        return os.environ["OFFLOADLAB_CODE_VERSION"]
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return __version__
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=20)
    except (OSError, subprocess.SubprocessError):
        return __version__
    suffix = ".dirty" if dirty.stdout.strip() else ""
    return f"{__version__}+g{head.stdout.strip()}{suffix}"


@dataclass
class RunSummary:
    """What a suite run did: job counts, skipped solvers and the suite's rows."""

    suite: str
    db: str
    jobs: int
    reused: int
    ran: int
    errors: int
    skipped: list[Skipped] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    overruns: int = 0


def run_suite(suite: Suite | str | Path, db: str | Path = DEFAULT_DB, *, workers: int = 0,
              dask: str | None = None, retry_errors: bool = False, progress: bool = True,
              version: str | None = None) -> RunSummary:
    """Run every job of ``suite`` not yet in the store ``db``.

    Parameters
    ----------
    suite : Suite, str or Path
        A loaded suite, a suite file or a built-in suite name.
    db : str or Path
        The SQLite results store.
    workers : int
        Worker processes (0: one per core).
    dask : str, optional
        ``"local"`` for a LocalCluster of ``workers`` single-thread workers, or the
        address of a running ``dask.distributed`` scheduler (its workers must import
        offloadlab; the jobs carry the instances' content).
    retry_errors : bool
        Run again the jobs stored with status ``error``.
    progress : bool
        Show a progress bar with ETA.
    version : str, optional
        The code version to key the rows on (default :func:`code_version`).
    """
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    jobs, skipped = expand(suite, version or code_version())
    workers = workers or os.cpu_count() or 1
    with Store(db) as store:
        done = store.done_keys([j.key for j in jobs], retry_errors=retry_errors)
        todo = [j for j in jobs if j.key not in done]
        summary = RunSummary(suite.name, str(db), len(jobs), len(jobs) - len(todo), 0, 0,
                             skipped, [j.key for j in jobs])
        if todo:
            with _progress_bar(progress, len(todo), suite.name) as advance:
                def record(job: Job, result: dict) -> None:
                    store.put(job.as_dict(), result)
                    summary.ran += 1
                    summary.errors += result.get("status") == "error"
                    summary.overruns += (result.get("message") or "").startswith("overran")
                    advance(job, result)

                if dask:
                    _run_dask(todo, record, dask, workers)
                else:
                    _run_local(todo, record, workers)
    return summary


def _run_local(jobs: list[Job], record, workers: int) -> None:
    """A spawn-context process pool. When a worker process dies the pool breaks and every
    job in it is suspect: the suspects run again one per pool, so a job that kills its
    worker is stored as an error and the others finish."""
    suspects = _run_pool(jobs, record, workers)
    for job in suspects:
        if _run_pool([job], record, 1):
            record(job, {"status": "error", "error": "WorkerDied: the worker process "
                                                     "running this job died"})


def _run_pool(jobs: list[Job], record, workers: int) -> list[Job]:
    """Run ``jobs`` on a fresh pool; returns those lost to a broken pool."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    lost = []
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                               mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(run_job, j.as_dict()): j for j in jobs}
        for fut in as_completed(futures):
            try:
                result = fut.result()
            except BrokenProcessPool:
                lost.append(futures[fut])
                continue
            record(futures[fut], result)
    except BaseException:
        # Ctrl-C or a store failure: drop the queued jobs instead of running them all
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return lost


def _run_dask(jobs: list[Job], record, address: str, workers: int) -> None:
    """The same jobs as Dask futures, each with its instance's content (scattered once
    per distinct file content); a task that Dask gives up on is stored as an error."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address)
        except (OSError, ValueError) as exc:   # a malformed address, or no one there
            raise ClusterError(f"--dask {address}: no Dask scheduler there ({exc})") from None
    try:
        contents = {}
        for j in jobs:
            if j.instance_sha not in contents:
                contents[j.instance_sha] = client.scatter(Path(j.instance_path).read_bytes(),
                                                          hash=True)
        futures = {client.submit(run_job, j.as_dict(), contents[j.instance_sha],
                                 key=f"offloadlab-job-{j.key}", pure=False): j
                   for j in jobs}
        for fut in as_completed(list(futures)):
            job = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # KilledWorker, lost connection, ...
                result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            record(job, result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def _progress_bar(enabled: bool, total: int, title: str):
    """Yields ``advance(job, result)``; a rich bar with counts, elapsed time and ETA."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
               TextColumn("{task.fields[last]}")]
    errors = 0
    with Progress(*columns, disable=not enabled) as bar:
        task = bar.add_task(title, total=total, last="")

        def advance(job: Job, result: dict) -> None:
            nonlocal errors
            errors += result.get("status") == "error"
            note = f"{job.instance} {job.label}: {result.get('status')}"
            if errors:
                note += f"  ({errors} error{'s' if errors > 1 else ''})"
            bar.update(task, advance=1, last=note)

        yield advance
