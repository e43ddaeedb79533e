"""One evaluation and time budget for every solver, counted by the one simulator.

:class:`Evaluator` is the door from a solver to :func:`simulate`: it scores a population,
cuts it to the evaluations left, keeps the best plan seen and the history of the best
objective over time, and builds the Solution (:meth:`Evaluator.solution`). One evaluation
is reserved for the final re-scoring by :func:`~offloadlab.registry.make_solution`, so a
Solution's ``evaluations`` never exceeds ``budget_evals``. Constructive solvers that
score partial plans themselves (greedy) :meth:`~Evaluator.charge` what they used and ask
:meth:`~Evaluator.afford` first.

The status is honest: ``time_limit`` only when the clock stopped the run; when the
evaluations ran out it is decided by the plan (``optimal`` against a proven bound,
``feasible``, or ``infeasible`` when no feasible plan was found).
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.simulator import objective
from offloadlab.solution import Solution


def time_left(time_limit_s: float | None, started: float) -> float | None:
    """Seconds left of a limit counted from ``started`` (a ``time.perf_counter()``):
    None stays None, and none left is 0."""
    if time_limit_s is None:
        return None
    return max(0.0, time_limit_s - (time.perf_counter() - started))


class Evaluator:
    """Scores populations under an evaluation and a time budget.

    Parameters
    ----------
    problem : Problem
    budget_evals : int or None
        Plans the simulator may score in all (the final re-scoring included).
    time_limit_s : float or None
        Seconds from ``started``.
    started : float
        ``time.perf_counter()`` at the solver's start.
    """

    def __init__(self, problem: Problem, budget_evals: int | None, time_limit_s: float | None,
                 started: float):
        if budget_evals is not None and budget_evals < 2:
            raise ValueError("budget_evals must be at least 2 (one search, one final score)")
        if time_limit_s is not None and not 0 < time_limit_s < np.inf:
            raise ValueError("time_limit_s must be a positive number of seconds")
        self.problem = problem
        self.limit = None if budget_evals is None else int(budget_evals) - 1
        self.time_limit_s = time_limit_s
        self.started = started
        self.used = 0
        self.timed_out = False
        self.best_value = np.inf
        self.best_assign: np.ndarray | None = None
        self.best_priority: np.ndarray | None = None
        self.history: list[tuple[float, float]] = []

    def left(self) -> int | None:
        """Evaluations left (None = no evaluation budget)."""
        return None if self.limit is None else self.limit - self.used

    def afford(self, n: int) -> bool:
        """Whether ``n`` more evaluations fit in the budget."""
        left = self.left()
        return left is None or n <= left

    def done(self) -> bool:
        """True when the evaluations or the time are spent."""
        if self.limit is not None and self.used >= self.limit:
            return True
        if self.time_limit_s is not None and self.elapsed() >= self.time_limit_s:
            self.timed_out = True
            return True
        return False

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def charge(self, n: int) -> None:
        """Count ``n`` evaluations made outside (e.g. by a greedy seeding)."""
        self.used += int(n)

    def __call__(self, assign: np.ndarray, priority: np.ndarray | None = None) -> np.ndarray:
        """Objectives of the rows of ``assign`` the budget allows (fewer rows when short).

        ``priority`` is (L,), (1, L) or one row per plan. Returns a vector of the
        evaluated rows' objectives (length ``min(P, left)``).
        """
        n = assign.shape[0]
        left = self.left()
        if left is not None:
            n = max(0, min(n, left))
        if n == 0:
            return np.empty(0)
        if priority is not None and np.ndim(priority) == 2 and priority.shape[0] > 1:
            priority = priority[:n]
        values = objective(self.problem, assign[:n], priority)
        self.used += n
        i = int(np.argmin(values))
        if values[i] < self.best_value:
            self.best_value = float(values[i])
            self.best_assign = assign[i].copy()
            if priority is None:
                self.best_priority = None
            else:
                pr = np.atleast_2d(priority)
                self.best_priority = pr[i if pr.shape[0] > 1 else 0].copy()
            self.history.append((self.elapsed(), self.best_value))
        return values

    def until(self, fraction: float) -> tuple:
        """Shrink the budgets to ``fraction`` of what is left (evaluations and seconds);
        returns the old limits for :meth:`restore`."""
        old = (self.limit, self.time_limit_s)
        if self.limit is not None:
            self.limit = self.used + int(fraction * (self.limit - self.used))
        if self.time_limit_s is not None:
            self.time_limit_s = self.elapsed() + fraction * (self.time_limit_s
                                                             - self.elapsed())
        return old

    def restore(self, old: tuple) -> None:
        """Undo :meth:`until` (the clock of a shrunk phase does not count as timed out)."""
        self.limit, self.time_limit_s = old
        self.timed_out = False

    def status(self) -> str | None:
        """``time_limit`` when the clock stopped the run, else None (decided by the bound)."""
        return "time_limit" if self.timed_out else None

    def solution(self, name: str, assign=None, priority=None, **kwargs) -> Solution:
        """The Solution of the run: ``assign``/``priority`` (default: the best plan seen)
        scored by :func:`make_solution`, with the evaluations, history and status of
        this budget (``kwargs`` go to :func:`make_solution`: params, seed, message)."""
        if assign is None:
            assign, priority = self.best_assign, self.best_priority
        if assign is None and not kwargs.get("message"):
            kwargs["message"] = "no feasible plan found"
        return make_solution(self.problem, name, assign, priority, started=self.started,
                             status=self.status(),
                             evaluations=self.used, history=self.history, **kwargs)


def constructive(problem: Problem, name: str, need: int, build, *, time_limit_s=None,
                 budget_evals=None, failure: str = "no feasible plan found") -> Solution:
    """The Solution of a constructive solver (greedy, HEFT, PEFT) under the budget.

    ``build()`` returns ``(assign, priority, evaluations)`` after scoring at most ``need``
    plans (assign None: ``failure``); it runs only when the budget can pay for them and
    the final score, else the Solution says what the budget lacks.
    """
    evaluator = Evaluator(problem, budget_evals, time_limit_s, time.perf_counter())
    if not evaluator.afford(need):
        return evaluator.solution(name, message=f"budget_evals={budget_evals} cannot pay "
                                  f"for the {need + 1} evaluations {name} needs")
    assign, priority, used = build()
    evaluator.charge(used)
    return evaluator.solution(name, assign, priority,
                              message="" if assign is not None else failure)
