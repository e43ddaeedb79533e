"""The incremental schedule: one compiled step that places one layer on one server.

Everything that schedules calls this step: the population simulator
(:mod:`offloadlab.simulator`), greedy, HEFT and PEFT, and the learners' environment.

State
-----
:class:`ScheduleState` holds ``B`` independent partial schedules (episodes) of one
:class:`~offloadlab.problem.Problem` with ``L`` layers, ``S`` servers, ``T`` tasks and
``N = S * W`` pool slots. Make one with :func:`new_state` (``state.reset(problem,
which)`` empties chosen episodes, ``state.copy()`` duplicates); all arrays are numpy and
may be read (do not write them):

============  ==========  ==============================================================
field         shape       meaning
============  ==========  ==============================================================
slot_free_s   (B, N)      time each pool slot frees, sorted per server (the first frees
                          earliest; unused when ``not contention``);
                          server s owns ``[s * W, (s + 1) * W)``, ``W`` the largest
                          ``pools`` rounded up to a power of two,
                          its slots beyond ``pools[s]`` stay at +inf
finish_s      (B, L)      finish of each placed layer, -1 where not placed
assign        (B, L)      server of each placed layer, -1 where not placed
task_end_s    (B, T)      a task's current end: its release, then the latest finish of
                          its placed layers (a final layer's includes the return of its
                          output when the objective says ``return_output``)
front_s       (B,)        the latest task end, starting at the earliest release
mem_mb        (B, S)      memory held: ``param_mb + out_mb`` of the layers placed there
n_on          (B, S)      layers placed on each server
n_placed      (B,)        layers placed
status        (B,)        FEASIBLE, or the code of the first failure (it stays)
============  ==========  ==============================================================

Once every layer is placed, ``task_end_s - release_s`` is exactly (bit for bit) the
simulator's ``latency_s`` of the plan placed in that order.

Step
----
``place_batch(problem, state, layer, server)`` places ``layer[b]`` on ``server[b]`` in
episode ``b`` for every ``b`` (int arrays of shape (B,)), in one compiled call, and
returns a :class:`Step` of (B,) arrays: ``start_s``, ``finish_s``, ``exec_s``,
``transfer_s`` (the critical predecessor's transfer, or the input's from the device),
``wait_s`` (queueing for a pool slot), ``end_s`` (the finish plus, for a final layer with
``return_output``, the way back), ``crit`` (critical predecessor, -1 the task input),
``status``, and ``task_end_before_s`` / ``task_end_after_s`` / ``front_before_s`` /
``front_after_s`` (what the objectives' increments read). ``place(problem, state, layer,
server, b=0)`` is the same for one episode and returns a dict of floats/ints.

Rules (MODELS.md §0): ``ready = max(release, max over predecessors of finish + out_mb /
bw)``, a source layer receives ``input_mb`` from its task's device from ``release`` on;
the critical predecessor is the one whose data arrives last (ties: lowest global index);
each server has ``pools`` identical slots and a layer takes the one that frees earliest;
a kind without contention (``problem.objective.contention`` false, e.g. dmro) has
unlimited pools. The step appends; it does not insert into idle gaps.

Status codes (:data:`REASONS` has the messages). On the structural failures nothing is
committed (the state keeps its times; the code is recorded in ``status``):

* ``BAD_SERVER`` (6): the server index is out of range;
* ``FOREIGN_DEVICE`` (1): the server is another task's device;
* ``NO_DEVICE`` (7): the server is a device and the layer's task has none;
* ``BAD_ORDER`` (8): the layer index is out of range or the layer is already placed;
* ``PRECEDENCE`` (5): a predecessor of the layer is not placed yet;
* ``NO_LINK`` (2): data must cross a missing link (input, predecessor's output, or the
  return of a final output).

These are committed (the times are valid) and make the plan infeasible:

* ``DEADLINE`` (3): the task's end minus its release exceeds its deadline (times
  ``1 + 1e-9``, plus 1e-12 s); known as soon as any layer of the task finishes late;
* ``MEMORY`` (4): the memory held on the server exceeds ``memory_mb`` (times ``1 +
  1e-9``).

Compiled callers
----------------
:func:`probe` (times of a layer on a server, nothing written) and :func:`commit` are
numba functions inlined into their callers: the population kernel
(``simulator._population``), :func:`place_batch` and :func:`earliest_finish_plan` (greedy,
HEFT, PEFT: probe every candidate, commit the best). :func:`pack` holds the arrays they
read.

Incremental objective
---------------------
``problem.objective.increment(state, step)`` (B,) is what the objective gained by each
placement (0 where the step failed structurally); summed over a complete plan it equals
the simulator's objective of the plan (to ~1e-12 relative). See
:mod:`offloadlab.objectives`; ddpqn's is exact only when the layers are placed in the
global (MDP) order ``0..L-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

# The step is inlined into every caller and compiled without the reference-counting
# runtime (``_nrt=False``): an array argument would otherwise cost two atomic operations
# per call, several times the step itself.

FEASIBLE, FOREIGN_DEVICE, NO_LINK, DEADLINE, MEMORY, PRECEDENCE = range(6)
BAD_SERVER, NO_DEVICE, BAD_ORDER = 6, 7, 8
REASONS = {
    FOREIGN_DEVICE: "a layer runs on a device that is not its task's",
    NO_LINK: "data must cross a missing link",
    DEADLINE: "a hard deadline is missed",
    MEMORY: "a server's memory is exceeded",
    PRECEDENCE: "the priority list runs a layer before its predecessor",
    BAD_SERVER: "a server index is out of range",
    NO_DEVICE: "a layer runs on a device but its task has none",
    BAD_ORDER: "the priority list is not a permutation of the layers",
}
STRUCTURAL = (BAD_SERVER, FOREIGN_DEVICE, NO_DEVICE, BAD_ORDER, PRECEDENCE, NO_LINK)


def pack(problem) -> tuple:
    """The problem's arrays as the compiled step reads them (built once per problem).

    ``(exec_s (L, S), slot_init (S * W,), bw (S, S), tier (S,), lay_i (L, 6), lay_f (L, 4),
    pred_idx, late_s (T,), release_s (T,), cap_mb (S,), unlimited, check_memory,
    check_deadline)``. Per layer, ``lay_i`` holds (task's device or -1, first and end
    offset of its predecessors in ``pred_idx``, task, 1 if its output returns to the
    device, 1 if it is a final layer) and ``lay_f`` (release, out_mb, input_mb, param_mb + out_mb): one cache line
    or two per layer. ``late_s`` is the latency over which a task misses its deadline,
    ``cap_mb`` the memory over which a server overflows (both with the simulator's
    tolerances). ``slot_init`` is an empty schedule's slot free times: each server has
    ``W`` slots (the largest ``pools`` rounded up to a power of two), those beyond its
    pools at +inf, kept sorted, so that every server's update has one shape (a loop
    whose length changes with the server costs a mispredicted branch per layer).
    """
    key = "schedule_pack"
    got = problem.extra.get(key)
    if got is not None:
        return got
    layer_dev = problem.task_device[problem.layer_task]
    ret = problem.is_sink & (layer_dev >= 0) & bool(problem.objective.return_output)
    lay_i = np.stack([layer_dev, problem.pred_ptr[:-1], problem.pred_ptr[1:],
                      problem.layer_task, ret, problem.is_sink], axis=1).astype(np.int64)
    lay_f = np.stack([problem.release_s[problem.layer_task], problem.out_mb,
                      problem.input_mb, problem.param_mb + problem.out_mb], axis=1)
    memory = problem.memory_mb
    deadline = problem.deadline_s
    width = 1 << int(problem.pools.max() - 1).bit_length()  # a power of two
    slot_init = np.where(np.arange(width)[None, :] < problem.pools[:, None], 0.0, np.inf)
    got = (np.ascontiguousarray(problem.exec_s), slot_init.ravel(), problem.bw,
           problem.tier, lay_i, np.ascontiguousarray(lay_f), problem.pred_idx,
           deadline * (1 + 1e-9) + 1e-12, problem.release_s, memory * (1 + 1e-9),
           not problem.objective.contention, bool(np.isfinite(memory).any()),
           bool(np.isfinite(deadline).any()))
    problem.extra[key] = got
    return got


@njit(cache=True, nogil=True, inline="always", _nrt=False)
def _take_slot(slot_free, lo, width, fin):
    """The earliest slot of the server whose sorted slots start at ``lo`` now frees at
    ``fin``: drop the first time, insert ``fin`` in order.

    The slots are identical, so only the sorted times matter. Branch-free: position j
    gets ``max(v[j], min(v[j+1], fin))``, independent operations where a search for the
    slot that frees earliest would chain one comparison per slot.
    """
    if width == 1:
        slot_free[lo] = fin
    elif width == 2:
        v1 = slot_free[lo + 1]
        slot_free[lo] = min(v1, fin)
        slot_free[lo + 1] = max(v1, fin)
    elif width == 4:
        v1, v2, v3 = slot_free[lo + 1], slot_free[lo + 2], slot_free[lo + 3]
        slot_free[lo] = min(v1, fin)
        slot_free[lo + 1] = max(v1, min(v2, fin))
        slot_free[lo + 2] = max(v2, min(v3, fin))
        slot_free[lo + 3] = max(v3, fin)
    elif width == 8:
        v1, v2, v3 = slot_free[lo + 1], slot_free[lo + 2], slot_free[lo + 3]
        v4, v5, v6, v7 = slot_free[lo + 4], slot_free[lo + 5], slot_free[lo + 6], slot_free[lo + 7]
        slot_free[lo] = min(v1, fin)
        slot_free[lo + 1] = max(v1, min(v2, fin))
        slot_free[lo + 2] = max(v2, min(v3, fin))
        slot_free[lo + 3] = max(v3, min(v4, fin))
        slot_free[lo + 4] = max(v4, min(v5, fin))
        slot_free[lo + 5] = max(v5, min(v6, fin))
        slot_free[lo + 6] = max(v6, min(v7, fin))
        slot_free[lo + 7] = max(v7, fin)
    else:
        prev = slot_free[lo + 1]
        slot_free[lo] = min(prev, fin)
        for j in range(lo + 1, lo + width - 1):
            nxt = slot_free[j + 1]
            slot_free[j] = max(prev, min(nxt, fin))
            prev = nxt
        slot_free[lo + width - 1] = max(prev, fin)


@njit(cache=True, nogil=True, inline="always", _nrt=False)
def probe(exec_s, width, bw, tier, lay_i, lay_f, pred_idx, unlimited, slot_free, finish,
          assign, g, s):
    """Times of layer ``g`` on server ``s`` given the placed layers, without committing.

    Returns ``(code, ready, start, exec, transfer, crit, slot, end)``; ``code`` is
    FEASIBLE or a structural failure; ``slot`` is the pool slot that frees earliest (-1
    without contention); ``end`` adds the return of a final output. A layer may use any
    edge or cloud server and its own task's device (``Problem.allowed``).
    """
    if g < 0 or g >= exec_s.shape[0]:
        return BAD_ORDER, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
    if s < 0 or s >= exec_s.shape[1]:
        return BAD_SERVER, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
    dev = lay_i[g, 0]
    if tier[s] == 0 and s != dev:
        return (FOREIGN_DEVICE if dev >= 0 else NO_DEVICE), 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
    if finish[g] >= 0.0:
        return BAD_ORDER, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
    r = lay_f[g, 0]
    crit = -1
    tr = 0.0
    lo = lay_i[g, 1]
    hi = lay_i[g, 2]
    if lo == hi:
        if dev >= 0:
            b = bw[dev, s]
            if b == 0.0:
                return NO_LINK, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
            tr = lay_f[g, 2] / b
        r += tr
    elif hi - lo == 1:  # one predecessor (chains): no search for the critical one
        q = pred_idx[lo]
        fq = finish[q]
        if fq < 0.0:
            return PRECEDENCE, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
        b = bw[assign[q], s]
        if b == 0.0:
            return NO_LINK, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
        tr = lay_f[q, 1] / b
        crit = q
        r = max(r, fq + tr)
    else:
        best = -np.inf
        for j in range(lo, hi):
            q = pred_idx[j]
            fq = finish[q]
            if fq < 0.0:
                return PRECEDENCE, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
            b = bw[assign[q], s]
            if b == 0.0:
                return NO_LINK, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
            lag = lay_f[q, 1] / b
            arrival = fq + lag
            if arrival > best:
                best = arrival
                tr = lag
                crit = q
        r = max(r, best)
    st = r
    dur = exec_s[g, s]
    slot = -1
    if not unlimited:
        slot = s * width  # the server's slots are sorted: the first frees earliest
        st = max(st, slot_free[slot])
    end = st + dur
    if lay_i[g, 4]:
        b = bw[s, dev]
        if b == 0.0:
            return NO_LINK, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0
        end += lay_f[g, 1] / b
    return FEASIBLE, r, st, dur, tr, crit, slot, end


@njit(cache=True, nogil=True, inline="always", _nrt=False)
def commit(width, lay_i, lay_f, late_s, release_s, cap_mb, check_memory, check_deadline,
           every_layer, slot_free, finish, task_end, mem_mb, g, s, slot, start, dur, end):
    """Record layer ``g`` on ``s`` (times from :func:`probe`); returns FEASIBLE,
    DEADLINE or MEMORY.

    ``task_end`` follows every layer with ``every_layer`` (a task's current end, what the
    increments read), else only the final layers: the task's end is the same once all
    are placed (a successor never ends before its predecessor), and the simulator saves
    a dependency through memory per layer.
    """
    fin = start + dur
    if slot >= 0:
        _take_slot(slot_free, slot, width, fin)
    finish[g] = fin
    t = lay_i[g, 3]
    if every_layer or lay_i[g, 5]:
        task_end[t] = max(task_end[t], end)
    code = FEASIBLE
    if check_deadline and end - release_s[t] > late_s[t]:  # the task ends late
        code = DEADLINE
    if check_memory:
        mem_mb[s] += lay_f[g, 3]
        if mem_mb[s] > cap_mb[s] and code == FEASIBLE:
            code = MEMORY
    return code


@njit(cache=True, nogil=True, _nrt=False)  # no fastmath: inf bandwidth is meaningful
def population(pk, assign, priority, record, start, finish, exec_s_out, transfer, wait, crit,
                task_end, status, slot_free, mem_mb):
    """The simulator's kernel: every plan placed layer by layer with the step (probe +
    commit). It lives here so that numba's cache, keyed by this file, never keeps it
    after the step changes.

    Stops a plan at its first failure; with ``record`` it goes on after a deadline or
    memory failure so that the per-layer arrays stay complete.
    """
    (exec_s, slot_init, bw, tier, lay_i, lay_f, pred_idx, late_s, release_s, cap_mb,
     unlimited, check_memory, check_deadline) = pk
    width = slot_init.shape[0] // exec_s.shape[1]
    n_plans, n_layers = assign.shape
    shared_priority = priority.shape[0] == 1
    for p in range(n_plans):
        for j in range(slot_init.shape[0]):
            slot_free[j] = slot_init[j]
        mem_mb[:] = 0.0
        a_row = assign[p]
        f_row = finish[p]
        f_row[:] = -1.0
        e_row = task_end[p]
        for t in range(e_row.shape[0]):
            e_row[t] = release_s[t]
        order = priority[0] if shared_priority else priority[p]
        first = FEASIBLE
        for k in range(n_layers):
            g = order[k]
            s = a_row[g] if 0 <= g < n_layers else 0
            code, r, st, dur, tr, cl, slot, end = probe(
                exec_s, width, bw, tier, lay_i, lay_f, pred_idx, unlimited, slot_free,
                f_row, a_row, g, s)
            if code != FEASIBLE:
                first = code if first == FEASIBLE else first
                break
            code = commit(width, lay_i, lay_f, late_s, release_s, cap_mb, check_memory,
                          check_deadline, False, slot_free, f_row, e_row, mem_mb, g, s, slot,
                          st, dur, end)
            if record:  # per-layer detail; search loops need only the task ends
                start[p, g] = st
                wait[p, g] = st - r
                exec_s_out[p, g] = dur
                transfer[p, g] = tr
                crit[p, g] = cl
            if code != FEASIBLE:
                first = code if first == FEASIBLE else first
                if not record:
                    break
        status[p] = first


@njit(cache=True, nogil=True, _nrt=False)
def _place_batch(pk, slot_free, finish, assign, task_end, front, mem_mb, n_on, n_placed,
                 status, layer, server, out_f, out_i):
    (exec_s, slot_init, bw, tier, lay_i, lay_f, pred_idx, late_s, release_s, cap_mb,
     unlimited, check_memory, check_deadline) = pk
    width = slot_init.shape[0] // exec_s.shape[1]
    for b in range(layer.shape[0]):
        g = layer[b]
        s = server[b]
        code, r, st, dur, tr, crit, slot, end = probe(
            exec_s, width, bw, tier, lay_i, lay_f, pred_idx, unlimited, slot_free[b],
            finish[b], assign[b], g, s)
        t = lay_i[g, 3] if code != BAD_ORDER else 0
        before = task_end[b, t]
        front_before = front[b]
        if code == FEASIBLE:
            code = commit(width, lay_i, lay_f, late_s, release_s, cap_mb, check_memory,
                          check_deadline, True, slot_free[b], finish[b], task_end[b],
                          mem_mb[b], g, s, slot, st, dur, end)
            assign[b, g] = s
            n_on[b, s] += 1
            n_placed[b] += 1
            if end > front[b]:
                front[b] = end
        if status[b] == FEASIBLE:
            status[b] = code
        committed = code == FEASIBLE or code == DEADLINE or code == MEMORY
        out_f[0, b] = st
        out_f[1, b] = st + dur
        out_f[2, b] = dur
        out_f[3, b] = tr
        out_f[4, b] = st - r
        out_f[5, b] = end
        out_f[6, b] = before
        out_f[7, b] = task_end[b, t] if committed else before
        out_f[8, b] = front_before
        out_f[9, b] = front[b]
        out_i[0, b] = crit
        out_i[1, b] = code


@dataclass
class ScheduleState:
    """``B`` partial schedules of one problem (fields: see the module docstring)."""

    slot_free_s: np.ndarray
    finish_s: np.ndarray
    assign: np.ndarray
    task_end_s: np.ndarray
    front_s: np.ndarray
    mem_mb: np.ndarray
    n_on: np.ndarray
    n_placed: np.ndarray
    status: np.ndarray

    @property
    def batch(self) -> int:
        return len(self.status)

    def copy(self) -> "ScheduleState":
        return ScheduleState(*(np.array(a) for a in self._arrays()))

    def reset(self, problem, which=None) -> None:
        """Empty the episodes ``which`` (bool mask or indices; default all)."""
        sel = slice(None) if which is None else which
        self.slot_free_s[sel] = pack(problem)[1]
        self.finish_s[sel] = -1.0
        self.assign[sel] = -1
        self.task_end_s[sel] = problem.release_s
        self.front_s[sel] = problem.release_s.min()
        self.mem_mb[sel] = 0.0
        self.n_on[sel] = 0
        self.n_placed[sel] = 0
        self.status[sel] = FEASIBLE

    def _arrays(self):
        return (self.slot_free_s, self.finish_s, self.assign, self.task_end_s, self.front_s,
                self.mem_mb, self.n_on, self.n_placed, self.status)


@dataclass(frozen=True)
class Step:
    """What one batched step did, (B,) arrays (see the module docstring)."""

    layer: np.ndarray
    server: np.ndarray
    start_s: np.ndarray
    finish_s: np.ndarray
    exec_s: np.ndarray
    transfer_s: np.ndarray
    wait_s: np.ndarray
    end_s: np.ndarray
    task_end_before_s: np.ndarray
    task_end_after_s: np.ndarray
    front_before_s: np.ndarray
    front_after_s: np.ndarray
    crit: np.ndarray
    status: np.ndarray

    @property
    def committed(self) -> np.ndarray:
        """Where the layer was placed (feasible, or a deadline / memory failure)."""
        return ~np.isin(self.status, STRUCTURAL)


# here, not in the environment's module: numba's cache is keyed by the file of the
# function, and `probe`, which it inlines, must invalidate it when it changes
@njit(cache=True, nogil=True)
def observe_servers(pk, slot_free, finish, assign, task_end, mem_mb, n_on, n_placed, g,
                    scales, mask, dyn):
    """The learners' per-server observation of layer ``g`` (:mod:`offloadlab.learners.env`),
    from :func:`probe`: per episode b the allowed servers (``mask[b, s]``) and the fields
    ``dyn[b, f, s]`` in the order of that module's docstring (mask, source, end, wait,
    transfer, exec, share; ``cost`` is filled by the caller)."""
    (exec_s, slot_init, bw, tier, lay_i, lay_f, pred_idx, late_s, release_s, cap_mb,
     unlimited, check_memory, check_deadline) = pk
    n_servers = exec_s.shape[1]
    width = slot_init.shape[0] // n_servers
    time_scale = scales[0]
    dev, lo, hi, t = lay_i[g, 0], lay_i[g, 1], lay_i[g, 2], lay_i[g, 3]
    for b in range(mask.shape[0]):
        t0 = task_end[b, t]
        any_ok = False
        any_struct = False
        for s in range(n_servers):
            code, r, st, dur, tr, crit, slot, end = probe(
                exec_s, width, bw, tier, lay_i, lay_f, pred_idx, unlimited, slot_free[b],
                finish[b], assign[b], g, s)
            for f in range(dyn.shape[1]):
                dyn[b, f, s] = 0.0
            if code != FEASIBLE:
                mask[b, s] = False
                continue
            any_struct = True
            ok = not (check_deadline and max(end, t0) - release_s[t] > late_s[t])
            if check_memory and mem_mb[b, s] + lay_f[g, 3] > cap_mb[s]:
                ok = False
            mask[b, s] = ok
            any_ok = any_ok or ok
            dyn[b, 0, s] = 1.0
            dyn[b, 2, s] = (end - t0) / time_scale
            dyn[b, 3, s] = (st - r) / time_scale
            dyn[b, 4, s] = tr / time_scale
            dyn[b, 5, s] = dur / time_scale
        if not any_ok and any_struct:  # every server breaks a limit: allow them all
            for s in range(n_servers):
                mask[b, s] = dyn[b, 0, s] > 0.0
        for s in range(n_servers):
            dyn[b, 0, s] = 1.0 if mask[b, s] else 0.0
            dyn[b, 6, s] = n_on[b, s] / max(n_placed[b], 1)
        if lo == hi:
            if dev >= 0:
                dyn[b, 1, dev] = 1.0
        else:
            for j in range(lo, hi):
                dyn[b, 1, assign[b, pred_idx[j]]] = 1.0


def new_state(problem, batch: int = 1) -> ScheduleState:
    """``batch`` empty schedules of ``problem``."""
    n_l, n_s, n_t = problem.n_layers, problem.n_servers, problem.n_tasks
    state = ScheduleState(
        slot_free_s=np.empty((batch, len(pack(problem)[1]))),
        finish_s=np.empty((batch, n_l)), assign=np.empty((batch, n_l), dtype=np.int64),
        task_end_s=np.empty((batch, n_t)), front_s=np.empty(batch),
        mem_mb=np.zeros((batch, n_s)), n_on=np.zeros((batch, n_s), dtype=np.int64),
        n_placed=np.zeros(batch, dtype=np.int64), status=np.zeros(batch, dtype=np.int64))
    state.reset(problem)
    return state


def place_batch(problem, state: ScheduleState, layer, server) -> Step:
    """Place ``layer[b]`` on ``server[b]`` in every episode ``b`` (one compiled call)."""
    batch = state.batch
    layer = np.ascontiguousarray(np.broadcast_to(np.asarray(layer, dtype=np.int64), batch))
    server = np.ascontiguousarray(np.broadcast_to(np.asarray(server, dtype=np.int64), batch))
    out_f = np.empty((10, batch))
    out_i = np.empty((2, batch), dtype=np.int64)
    _place_batch(pack(problem), *state._arrays(), layer, server, out_f, out_i)
    return Step(layer, server, *out_f, *out_i)


def place(problem, state: ScheduleState, layer: int, server: int, b: int = 0) -> dict:
    """Place one layer in episode ``b``; returns the :class:`Step` fields as scalars."""
    view = ScheduleState(*(a[b:b + 1] for a in state._arrays()))
    step = place_batch(problem, view, [layer], [server])
    return {k: v[0].item() for k, v in step.__dict__.items()}


@njit(cache=True, nogil=True, _nrt=False)
def _earliest_finish(pk, order, cand, extra_s, memory_aware, slot_free, finish, task_end,
                     mem_mb, assign):
    (exec_s, slot_init, bw, tier, lay_i, lay_f, pred_idx, late_s, release_s, cap_mb,
     unlimited, check_memory, check_deadline) = pk
    width = slot_init.shape[0] // exec_s.shape[1]
    n_servers = exec_s.shape[1]
    evaluations = 0
    for k in range(order.shape[0]):
        g = order[k]
        best, best_end = -1, np.inf
        best_st, best_dur, best_slot, best_end_s = 0.0, 0.0, -1, 0.0
        for s in range(n_servers):
            if not cand[g, s]:
                continue
            evaluations += 1
            code, r, st, dur, tr, cl, slot, end = probe(exec_s, width, bw, tier, lay_i, lay_f,
                                                         pred_idx, unlimited, slot_free,
                                                         finish, assign, g, s)
            if code != FEASIBLE:
                continue
            if memory_aware and mem_mb[s] + lay_f[g, 3] > cap_mb[s]:
                continue
            value = end + extra_s[g, s]
            if value < best_end:
                best, best_end = s, value
                best_st, best_dur, best_slot = st, dur, slot
                best_end_s = end
        if best < 0:
            return False, evaluations
        commit(width, lay_i, lay_f, late_s, release_s, cap_mb, True, False, False, slot_free,
               finish, task_end, mem_mb, g, best, best_slot, best_st, best_dur, best_end_s)
        assign[g] = best
    return True, evaluations


def earliest_finish_plan(problem, order, candidates=None, extra_s=None,
                         memory_aware: bool = False):
    """List scheduling by earliest finish: each layer of ``order`` in turn to the
    candidate server where it ends first (plus ``extra_s[l, s]``), committed with the
    step; ties go to the lower server index. O(L·S) probes.

    ``candidates`` (L, S) bool defaults to ``problem.allowed``; the end of a final layer
    includes the return of its output when the objective says so; probes that fail
    structurally (missing link) are skipped, and with ``memory_aware`` so are servers
    whose memory the layer would overflow (the layers not yet placed hold none).
    Deadlines are not looked at. Returns ``(assign or None, probes)``.
    """
    order = np.ascontiguousarray(order, dtype=np.int64)
    cand = problem.allowed if candidates is None else np.ascontiguousarray(candidates)
    extra = np.zeros(problem.exec_s.shape) if extra_s is None else np.ascontiguousarray(
        extra_s, dtype=np.float64)
    state = new_state(problem)
    assign = problem.allowed.argmax(axis=1)  # layers off ``order`` keep their first server
    ok, used = _earliest_finish(pack(problem), order, cand & problem.allowed, extra,
                                memory_aware, state.slot_free_s[0], state.finish_s[0],
                                state.task_end_s[0], state.mem_mb[0], assign)
    return (assign if ok else None), int(used)


@njit(cache=True, nogil=True, _nrt=False)
def _decode_population(pk, orders, genes, repair, cand, slot_free, finish, task_end, mem_mb,
                       out):
    (exec_s, slot_init, bw, tier, lay_i, lay_f, pred_idx, late_s, release_s, cap_mb,
     unlimited, check_memory, check_deadline) = pk
    width = slot_init.shape[0] // exec_s.shape[1]
    n_servers = exec_s.shape[1]
    for p in range(orders.shape[0]):
        for j in range(slot_init.shape[0]):
            slot_free[j] = slot_init[j]
        mem_mb[:] = 0.0
        finish[:] = -1.0
        for t in range(task_end.shape[0]):
            task_end[t] = release_s[t]
        row = out[p]
        for g in range(row.shape[0]):
            row[g] = genes[p, g]
        for k in range(orders.shape[1]):
            g = orders[p, k]
            best, best_end = -1, np.inf
            best_st, best_dur, best_slot, best_end_s = 0.0, 0.0, -1, 0.0
            for s in range(n_servers):
                if not cand[g, s] or (not repair[p, g] and s != genes[p, g]):
                    continue
                code, r, st, dur, tr, cl, slot, end = probe(
                    exec_s, width, bw, tier, lay_i, lay_f, pred_idx, unlimited, slot_free,
                    finish, row, g, s)
                if code != FEASIBLE or mem_mb[s] + lay_f[g, 3] > cap_mb[s]:
                    continue
                if end < best_end:
                    best, best_end = s, end
                    best_st, best_dur, best_slot, best_end_s = st, dur, slot, end
            if best < 0 and not repair[p, g]:  # the gene's server fails: repair it
                for s in range(n_servers):
                    if not cand[g, s]:
                        continue
                    code, r, st, dur, tr, cl, slot, end = probe(
                        exec_s, width, bw, tier, lay_i, lay_f, pred_idx, unlimited,
                        slot_free, finish, row, g, s)
                    if code != FEASIBLE or mem_mb[s] + lay_f[g, 3] > cap_mb[s]:
                        continue
                    if end < best_end:
                        best, best_end = s, end
                        best_st, best_dur, best_slot, best_end_s = st, dur, slot, end
            if best < 0:  # no server fits: the rest keep their genes (the plan fails)
                break
            commit(width, lay_i, lay_f, late_s, release_s, cap_mb, True, False, False,
                   slot_free, finish, task_end, mem_mb, g, best, best_slot, best_st,
                   best_dur, best_end_s)
            row[g] = best


def decode_population(problem, orders, genes, repair):
    """Assignments of a population decoded by earliest finish (the metaheuristics'
    ``order`` and ``hybrid`` decoders, one compiled call for all rows).

    Row ``p`` places the layers in the order ``orders[p]``; a layer with ``repair[p, l]``
    goes to the allowed server where it ends first (as :func:`earliest_finish_plan`,
    memory-aware), the others to ``genes[p, l]`` unless that server fails (missing link,
    memory), when they are repaired too. When no server fits a layer, it and the layers
    after it keep their genes (the simulator then reports the failure). Deadlines are not
    looked at. Returns the (P, L) assignments.
    """
    orders = np.ascontiguousarray(orders, dtype=np.int64)
    genes = np.ascontiguousarray(genes, dtype=np.int64)
    repair = np.ascontiguousarray(np.broadcast_to(repair, genes.shape), dtype=np.bool_)
    if orders.shape[0] == 1 and genes.shape[0] > 1:
        orders = np.ascontiguousarray(np.broadcast_to(orders, genes.shape))
    state = new_state(problem)
    out = np.empty_like(genes)
    _decode_population(pack(problem), orders, genes, repair, problem.allowed,
                       state.slot_free_s[0], state.finish_s[0], state.task_end_s[0],
                       state.mem_mb[0], out)
    return out
