"""One solver function per learner variant, with a signature listing every parameter
(the registry reads the parameters' names and defaults from it)."""

from __future__ import annotations

import inspect


def variant_solver(solve, name: str, fixed: dict, hyper):
    """``solve(problem, **fixed, ...)`` as the solver ``name``.

    Its signature is ``solve``'s parameters except those in ``fixed`` and ``**hyper``,
    then one keyword per ``(name, default)`` of ``hyper`` (the hyper-parameters the
    variant exposes).
    """
    def run(problem, **kwargs):
        return solve(problem, **fixed, **kwargs)

    base = [p for key, p in inspect.signature(solve).parameters.items()
            if key not in fixed and key != "hyper"]
    extra = [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default)
             for key, default in hyper]
    run.__signature__ = inspect.Signature(base + extra)
    run.__name__ = f"solve_{name.replace('-', '_')}"
    run.__doc__ = f"The {name} learner as a solver; see :func:`{solve.__module__}.solve`."
    return run
