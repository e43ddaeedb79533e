"""Profile a PyTorch network into an instance-format model (``{"input_mb", "layers"}``).

The network comes from a *factory*, a function called with no arguments that returns an
``nn.Module`` (``package.module:factory`` or ``path/to/file.py:factory``).  It is traced
with ``torch.fx``; where symbolic tracing fails, a recorder of module hooks and torch
function calls runs the network once instead (the result says which was used).  Shapes
are propagated on the ``meta`` device, so no weight is allocated and nothing is computed.

Conventions (those of :mod:`.architectures`, so that a profile of a reference network
equals the library's profile of it)
--------------------------------------------------------------------------------------
* One layer per *compute node*: convolutions, linear layers, matrix products (every
  operation ``torch.utils.flop_counter`` counts), pooling, concatenations of several
  layers' outputs, and modules with weights that are not normalisations or activations.
* Every other node is *folded* into the layer that produces its input: activations,
  normalisation (BatchNorm, LayerNorm, LRN, ...), dropout, reshapes, element-wise
  arithmetic.  Its weights (a BatchNorm's scale and shift) count with that layer.
* A *join* -- an element-wise operation on the outputs of several layers, such as a
  residual addition -- is folded into the deepest of them (the block's last convolution,
  not the shortcut), which then also reads the others; when that layer's output is read
  elsewhere too, the join becomes a weightless layer of its own.
* ``gcycles`` = FLOPs / 1e9 x :data:`CYCLES_PER_FLOP`.  FLOPs: 2 per multiply-accumulate
  (the flop counter), one per window element of pooling (output elements x window; an
  adaptive pool reads each input element once), one per output element and extra operand
  of element-wise arithmetic between layer outputs (a residual add); activations and
  normalisations count nothing.  With ``measure``: the median over timed runs of the
  layer's seconds on one thread of this CPU, times its clock in GHz.
* ``out_mb`` = bytes of the layer's output (the sum of its values that other layers read,
  leaving out one computed from another it sends, such as a subsampled shortcut: the
  reader derives it) / 2**20 (MiB), ``param_mb`` = bytes of its
  parameters / 2**20 (buffers such as running statistics are not parameters), both in
  the tensors' own dtype (float32 unless the module says otherwise); ``input_mb`` = the
  float32 input.  The batch dimension of ``input_shape`` is part of every size.
* A module called twice counts its weights at each call (each layer needs them where it
  runs).  Nodes whose value does not reach the output are dropped.  When several layers
  read the network input, a weightless ``input`` layer (0 Gcycles) fans it out, so that
  the model has the one input layer the format requires.
* ``granularity="block"`` merges the layers between consecutive *cut layers* (layers
  every input-to-output path passes through): a residual or inception block becomes one
  layer, a chain stays as it is.
"""

from __future__ import annotations

import heapq
import importlib
import importlib.util
import inspect
import math
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

MIB = 2**20
#: Cycles per FLOP of the derived ``gcycles`` (the library's architecture convention).
CYCLES_PER_FLOP = 1.0
INPUT = -1  # the network input, as a producer
ELEMENTWISE = {"add", "add_", "iadd", "sub", "sub_", "isub", "mul", "mul_", "imul",
               "truediv", "div", "div_", "itruediv"}
CONCATS = {"cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack"}
#: Modules that are never layers of their own, even with weights.
CHEAP_MODULE_WORDS = ("Norm", "ReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax",
                      "Hardswish", "Hardsigmoid", "Mish", "Softplus", "Dropout", "Identity",
                      "Flatten", "Unflatten", "PReLU", "LeakyReLU", "Upsample")


class ProfileError(ValueError):
    """A network that cannot be profiled, with a one-line reason."""

    def __str__(self) -> str:  # torch.fx appends its own lines to errors passing through
        return str(self.args[0]).splitlines()[0] if self.args else ""


@dataclass
class Op:
    """One node of the traced network.

    ``kind`` is ``input``, ``const`` (does not depend on the input), ``layer``,
    ``concat`` or ``cheap``; ``inputs`` are indices of earlier ops.
    """

    name: str
    kind: str
    inputs: list[int]
    out_bytes: int = 0
    param_bytes: int = 0
    flops: int = 0
    seconds: float = 0.0
    module: bool = False  # ``name`` is a module path


@dataclass
class Profile:
    """What :func:`profile_model` returns.

    Attributes
    ----------
    entry : dict
        The model entry ``{"input_mb", "layers"}``.
    method : str
        ``fx`` or ``hooks`` (how the graph was recorded).
    notes : list of str
        What the user should know (fallbacks, dropped nodes).
    flops : int
        FLOPs of the whole network.
    params : int
        Parameters of the whole network (each counted once).
    """

    entry: dict
    method: str
    notes: list[str] = field(default_factory=list)
    flops: int = 0
    params: int = 0


# --- loading the factory --------------------------------------------------------------


def load_factory(target: str) -> Callable:
    """The function named by ``package.module:factory`` or ``path/to/file.py:factory``."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise ProfileError(f"{target!r}: expected package.module:factory or "
                           "path/to/file.py:factory")
    if module_name.endswith(".py") or os.sep in module_name or "/" in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise ProfileError(f"{module_name}: no such file")
        spec = importlib.util.spec_from_file_location(f"_profiled_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's file: say what failed, not where in us
            raise ProfileError(f"{module_name}: importing it failed: "
                               f"{type(exc).__name__}: {exc}") from None
    else:
        sys.path.insert(0, os.getcwd())  # as ``python -m`` does
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise ProfileError(f"{module_name}: cannot import: "
                               f"{type(exc).__name__}: {exc}") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ProfileError(f"{target}: {module_name} has no callable {attr!r}")
    return factory


def build_network(factory: Callable, target: str, device: str = "meta"):
    """Call ``factory()`` (on ``device`` when it allows) and check it gives a module."""
    import torch
    from torch import nn

    required = _required_arguments(factory)
    if required:
        raise ProfileError(f"{target}: the factory needs arguments {required}; give a "
                           "function that takes none (e.g. a small wrapper)")
    try:
        if device == "meta":
            try:
                with torch.device("meta"):
                    net = factory()
            except Exception:  # e.g. a factory that loads data: build it, then move it
                net = factory()
        else:
            net = factory()
    except Exception as exc:
        raise ProfileError(f"{target}: the factory failed: "
                           f"{type(exc).__name__}: {exc}") from None
    if not isinstance(net, nn.Module):
        raise ProfileError(f"{target}: the factory returned {type(net).__name__}, "
                           "not a torch.nn.Module")
    return net.to(device).eval()


def _required_arguments(factory: Callable) -> list[str]:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` (or ``"1x3x224x224"``) -> ``(1, 3, 224, 224)``."""
    parts = text.replace("x", ",").split(",")
    if not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ProfileError(f"--input-shape {text!r}: expected positive integers separated "
                           "by commas, e.g. 1,3,224,224")
    return tuple(int(p) for p in parts)


# --- classification of nodes ----------------------------------------------------------


def _bytes(value) -> int:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(_bytes(v) for v in value)
    return 0


def _first_tensor(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _is_cheap_module(module) -> bool:
    return any(word in type(module).__name__ for word in CHEAP_MODULE_WORDS)


def _pool_ops(name: str, kernel, inputs: list, out) -> int | None:
    """Window operations of a pooling node named ``name``, None when it is not one."""
    if "pool" not in name.lower():
        return None
    out_t, in_t = _first_tensor(out), _first_tensor(inputs)
    if out_t is None:
        return None
    if "adaptive" in name.lower():
        return in_t.numel() if in_t is not None else out_t.numel()
    dims = next((int(c) for c in name if c in "123"), 2)
    if kernel is None:
        return out_t.numel()
    window = math.prod(kernel) if isinstance(kernel, (tuple, list)) else kernel ** dims
    return out_t.numel() * window


def classify(name: str, module, fn_name: str, args: list, kwargs: dict, out,
             n_sources: int, counted_flops: int) -> tuple[str, int]:
    """``(kind, flops)`` of a node that depends on the input.

    ``n_sources`` is the number of its inputs that depend on the network input.
    """
    import torch

    if module is not None:
        pool = None
        if type(module).__module__.startswith("torch.nn"):  # not a custom "...Pool"
            pool = _pool_ops(type(module).__name__, getattr(module, "kernel_size", None),
                             args, out)
        if pool is not None:
            return "layer", pool
        if counted_flops > 0:
            return "layer", counted_flops
        has_weights = any(True for _ in module.parameters())
        return ("layer" if has_weights and not _is_cheap_module(module) else "cheap"), 0
    pool = _pool_ops(fn_name, args[1] if len(args) > 1 else kwargs.get("kernel_size"),
                     args[:1], out)
    if pool is not None:
        return "layer", pool
    if counted_flops > 0:
        return "layer", counted_flops
    if fn_name in CONCATS:
        return "concat", 0
    out_t = _first_tensor(out)
    if fn_name.strip("_") in ELEMENTWISE and n_sources > 1 and out_t is not None:
        operands = sum(isinstance(a, torch.Tensor) for a in args)
        return "cheap", out_t.numel() * max(operands - 1, 1)
    return "cheap", 0


def _fn_name(target) -> str:
    if isinstance(target, str):
        return target
    return getattr(target, "__name__", str(target)).strip("_") or str(target)


# --- front end 1: torch.fx ------------------------------------------------------------


def trace_fx(net, x, time_ops: bool = False) -> list[Op]:
    """The ops of ``net`` by symbolic tracing, run node by node on ``x``.

    Raises
    ------
    torch.fx.proxy.TraceError, and whatever symbolic tracing raises
        When the network cannot be traced symbolically.
    """
    import torch
    import torch.fx as fx
    from torch.utils.flop_counter import FlopCounterMode

    gm = fx.symbolic_trace(net)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:  # optional arguments: the hooks run forward(x) as is
        raise TypeError(f"forward() has {len(placeholders)} arguments")
    counter = None if time_ops else FlopCounterMode(display=False)
    ops: list[Op] = []
    index: dict = {}

    class Recorder(fx.Interpreter):
        def run_node(self, node):
            before = counter.get_total_flops() if counter else 0
            start = time.perf_counter()
            try:
                out = super().run_node(node)
            except ProfileError:
                raise
            except Exception as exc:
                module = gm.get_submodule(node.target) if node.op == "call_module" else None
                where = node.name if module is None else (
                    f"{node.target} ({type(module).__name__}{_expects(module)})")
                shapes = [tuple(self.env[n].shape) for n in node.all_input_nodes
                          if isinstance(self.env.get(n), torch.Tensor)]
                raise ProfileError(_node_error(where, x, exc, shapes)) from None
            seconds = time.perf_counter() - start
            flops = (counter.get_total_flops() - before) if counter else 0
            index[node] = len(ops)
            ops.append(_fx_op(gm, node, out, flops, seconds, ops, index, self.env))
            return out

    with torch.no_grad():
        if counter is None:
            out = Recorder(gm).run(x)
        else:
            with counter:
                out = Recorder(gm).run(x)
    _check_output(out)
    return ops


def _fx_op(gm, node, out, flops, seconds, ops, index, env) -> Op:
    import torch

    inputs = [index[n] for n in node.all_input_nodes]
    if node.op == "placeholder":
        return Op("input", "input", [], _bytes(out))
    if node.op == "get_attr":
        return Op(node.name, "const", [], param_bytes=_bytes(out)
                  if isinstance(out, torch.nn.Parameter) else 0)
    if node.op == "output":
        return Op("output", "output", inputs)
    sources = [i for i in inputs if ops[i].kind != "const"]
    if not sources:
        return Op(node.name, "const", inputs,
                  param_bytes=sum(ops[i].param_bytes for i in inputs))
    args = [env[n] if isinstance(n, type(node)) else n for n in node.args]
    module, name = None, node.name
    stack = list(node.meta.get("nn_module_stack", {}))
    if stack:  # a function called inside a module: name it under that module
        name = f"{stack[-1]}.{node.name}"
    if node.op == "call_module":
        module = gm.get_submodule(node.target)
        name = str(node.target)
    kind, count = classify(name, module, _fn_name(node.target), args, dict(node.kwargs),
                           out, len(sources), flops)
    params = (sum(p.numel() * p.element_size() for p in module.parameters())
              if module is not None else 0)
    params += sum(ops[i].param_bytes for i in inputs if ops[i].kind == "const")
    return Op(name, kind, inputs, _bytes(_first_tensor(out)), params, count, seconds,
              module is not None)


def _check_output(out) -> None:
    import torch

    if not isinstance(out, torch.Tensor):
        raise ProfileError(f"forward() returns {type(out).__name__}, not a tensor; "
                           "profile a module that returns one tensor")


# --- front end 2: module hooks and torch function calls -------------------------------

#: Calls that need a tensor's values: on the meta device, a decision the graph depends on.
_VALUE_CALLS = {"bool", "item", "tolist", "int", "float", "index", "nonzero", "numpy"}


def trace_hooks(net, x, time_ops: bool = False) -> list[Op]:
    """The ops of ``net`` recorded while it runs once on ``x``.

    Leaf modules (those without children) are one op each; torch functions called
    outside them are one op each.  A Python decision on a tensor's value (``if``,
    ``.item()``) is refused, naming the module that makes it.
    """
    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils.flop_counter import FlopCounterMode

    counter = None if time_ops else FlopCounterMode(display=False)
    ops: list[Op] = [Op("input", "input", [], _bytes(x))]
    producer: dict[int, int] = {id(x): 0}
    alive = [x]  # keep recorded tensors alive: their ids must not be reused
    names = {m: n for n, m in net.named_modules()}
    stack: list = []  # modules being run, outermost first
    state = {"leaf": None, "busy": False, "start": 0.0, "flops": 0, "args": None}
    used: dict[str, int] = {}

    def unique(name: str, key: str) -> str:  # as torch.fx numbers repeated calls
        used[key] = used.get(key, 0) + 1
        return name if used[key] == 1 else f"{name}_{used[key] - 1}"

    def tensors(value) -> list:
        if isinstance(value, torch.Tensor):
            return [value]
        if isinstance(value, (tuple, list)):
            return [t for v in value for t in tensors(v)]
        if isinstance(value, dict):
            return [t for v in value.values() for t in tensors(v)]
        return []

    def record(name, module, fn_name, args, kwargs, out, flops, seconds):
        inputs = sorted({producer[id(t)] for t in tensors(args) + tensors(kwargs)
                         if id(t) in producer})
        if not inputs:
            return
        kind, count = classify(name, module, fn_name, list(args), kwargs, out,
                               len(inputs), flops)
        params = (sum(p.numel() * p.element_size() for p in module.parameters())
                  if module is not None else 0)
        name = unique(name, name if module is not None else fn_name)
        ops.append(Op(name, kind, inputs, _bytes(_first_tensor(out)), params, count,
                      seconds, module is not None))
        for t in tensors(out):
            producer[id(t)] = len(ops) - 1
            alive.append(t)

    def pre_hook(module, args):
        stack.append(module)
        if state["leaf"] is None and not any(True for _ in module.children()):
            state.update(leaf=module, args=args, start=time.perf_counter(),
                         flops=counter.get_total_flops() if counter else 0)

    def post_hook(module, args, out):
        stack.pop()
        if state["leaf"] is module:
            seconds = time.perf_counter() - state["start"]
            flops = (counter.get_total_flops() - state["flops"]) if counter else 0
            state["leaf"] = None
            record(names.get(module, type(module).__name__), module, "", state["args"],
                   {}, out, flops, seconds)

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            fn_name = _fn_name(func)
            if fn_name in _VALUE_CALLS and any(t.is_meta for t in tensors(args)):
                raise ProfileError(_control_flow_message(fn_name, stack, names))
            if state["leaf"] is not None or state["busy"]:
                return func(*args, **kwargs)
            state["busy"] = True
            before = counter.get_total_flops() if counter else 0
            start = time.perf_counter()
            try:
                out = func(*args, **kwargs)
            finally:
                state["busy"] = False
            seconds = time.perf_counter() - start
            flops = (counter.get_total_flops() - before) if counter else 0
            if tensors(out):
                inside = names.get(stack[-1]) if stack else ""
                record(f"{inside}.{fn_name}" if inside else fn_name, None, fn_name, args,
                       kwargs, out, flops, seconds)
            return out

    handles = []
    for module in net.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    try:
        with torch.no_grad(), Recorder():
            if counter is None:
                out = net(x)
            else:
                with counter:
                    out = net(x)
    except ProfileError:
        raise
    except Exception as exc:
        module = stack[-1] if stack else net
        where = f"{names.get(module) or 'forward'} ({type(module).__name__}{_expects(module)})"
        raise ProfileError(_node_error(where, x, exc)) from None
    finally:
        for h in handles:
            h.remove()
    _check_output(out)
    if id(out) not in producer:
        raise ProfileError("forward() returns a tensor that does not depend on its input")
    ops.append(Op("output", "output", [producer[id(out)]]))
    return ops


def _expects(module) -> str:
    """What a module expects of its input, when it says (channels, features)."""
    for attr, what in (("in_channels", "channels"), ("in_features", "features"),
                       ("num_features", "channels"), ("embed_dim", "features")):
        if isinstance(getattr(module, attr, None), int):
            return f", expects {getattr(module, attr)} input {what}"
    return ""


def _node_error(where: str, x, exc: Exception, shapes=()) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    shape = ",".join(map(str, x.shape))
    got = f" (it got {', '.join(map(str, shapes))})" if shapes else ""
    return (f"with --input-shape {shape} the network fails at {where}{got}: {reason}")


def _control_flow_message(fn_name: str, stack: list, names: dict) -> str:
    name = names.get(stack[-1]) if stack else None
    where = (f"module {name!r}" if name else
             f"the forward of {type(stack[0]).__name__}" if stack else "the network")
    return (f"data-dependent control flow in {where}{_user_line()}: a Python decision "
            f"on a tensor's value (Tensor.{fn_name}); the profiler needs a layer graph "
            "that does not depend on the input values")


def _user_line() -> str:
    """`` at file:line`` of the innermost frame outside torch, this package and Python."""
    import torch

    skip = (str(Path(torch.__file__).parent), str(Path(__file__).resolve().parent.parent),
            str(Path(os.__file__).parent))
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.startswith(skip) and not frame.filename.startswith("<"):
            return f" at {Path(frame.filename).name}:{frame.lineno}"
    return ""


# --- folding into layers --------------------------------------------------------------


@dataclass
class _Group:
    name: str
    flops: int
    param_bytes: int
    out_bytes: int
    out_op: int
    preds: list[int]
    seconds: float
    order: int
    paths: list[str] = field(default_factory=list)  # module paths of its nodes


def fold(ops: list[Op], notes: list[str] | None = None) -> list[_Group]:
    """Fold the ops into layers (each with its predecessors).

    Layers are listed in a topological order (ties by creation); ``notes`` receives
    what was dropped.
    """
    users = [0] * len(ops)
    for op in ops:
        for i in op.inputs:
            users[i] += 1
    groups: list[_Group] = []
    group_of: dict[int, int | None] = {}
    input_params = 0
    for i, op in enumerate(ops):
        if op.kind == "input":
            group_of[i] = INPUT
            continue
        if op.kind == "output":
            break
        srcs = list(dict.fromkeys(group_of[j] for j in op.inputs
                                  if group_of.get(j) is not None))
        if op.kind == "const" or not srcs:
            group_of[i] = None
            continue
        if op.kind == "layer" or (op.kind == "concat" and len(srcs) > 1):
            group_of[i] = _new_group(groups, op, i, srcs)
            continue
        if len(srcs) == 1:
            target = srcs[0]
        else:
            target = _join_target(groups, srcs, ops, op, i, group_of, users)
        if target is None:  # a join that stays a layer of its own
            group_of[i] = _new_group(groups, op, i, srcs)
        elif target == INPUT:
            group_of[i], input_params = INPUT, input_params + op.param_bytes
        else:
            g = groups[target]
            g.flops += op.flops
            g.param_bytes += op.param_bytes
            g.seconds += op.seconds
            g.paths += [op.name] if op.module else []
            g.out_bytes, g.out_op = op.out_bytes, i
            g.preds += [s for s in srcs if s != target and s not in g.preds]
            group_of[i] = target
    out_group = group_of.get(ops[-1].inputs[0]) if ops[-1].inputs else None
    if out_group is None:
        raise ProfileError("forward() returns a tensor that does not depend on its input")
    if out_group == INPUT:
        raise ProfileError("forward() returns its input with no layer applied: "
                           "nothing to place")
    for g, size in _sent_bytes(ops, group_of).items():
        groups[g].out_bytes = size
    if input_params:  # weights applied to the raw input go with the first layers
        first = next(g for g in groups if INPUT in g.preds)
        first.param_bytes += input_params
    return _order(groups, out_group, notes if notes is not None else [])


def _sent_bytes(ops: list[Op], group_of: dict) -> dict[int, int]:
    """Bytes each layer sends: its values that other layers read, summed, leaving out a
    value computed inside the layer from another one it sends (a shortcut's subsample
    of a sent output is derived at the reader from what it receives)."""
    sent: dict[int, set[int]] = {}
    for j, op in enumerate(ops):
        for k in op.inputs:
            g = group_of.get(k)
            if g is not None and g != INPUT and group_of.get(j) != g:
                sent.setdefault(g, set()).add(k)
    sizes = {}
    for g, values in sent.items():
        total = 0
        for k in values:
            seen, stack, derived = set(), list(ops[k].inputs), False
            while stack and not derived:
                i = stack.pop()
                if i in seen or group_of.get(i) != g:
                    continue
                seen.add(i)
                derived = i in values
                stack += ops[i].inputs
            total += 0 if derived else ops[k].out_bytes
        sizes[g] = total
    return sizes


def _new_group(groups, op: Op, i: int, srcs: list[int]) -> int:
    groups.append(_Group(op.name, op.flops, op.param_bytes, op.out_bytes, i, list(srcs),
                         op.seconds, len(groups), [op.name] if op.module else []))
    return len(groups) - 1


def _common_path(paths: list[str]) -> str:
    common = []
    for parts in zip(*(p.split(".") for p in paths)):
        if len(set(parts)) > 1:
            break
        common.append(parts[0])
    return ".".join(common)


def _layer_names(layers: list[_Group]) -> list[str]:
    """Each layer's name: the module that holds all its nodes and no other layer's
    (``stem`` for a Sequential of conv, norm and activation), else its first node's."""
    names = []
    for g in layers:
        prefix = _common_path(g.paths) if len(g.paths) > 1 else ""
        owned = prefix and prefix not in g.paths and not any(
            p == prefix or p.startswith(prefix + ".")
            for other in layers if other is not g for p in other.paths)
        names.append(prefix if owned else g.name)
    return _unique_names(names)


def _ancestors(groups, g: int) -> set[int]:
    seen, stack = set(), [g]
    while stack:
        for p in groups[stack.pop()].preds:
            if p != INPUT and p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def _depth(groups, g: int, memo: dict) -> int:
    if g == INPUT:
        return 0
    if g not in memo:
        memo[g] = 1 + max(_depth(groups, p, memo) for p in groups[g].preds)
    return memo[g]


def _join_target(groups, srcs, ops, op, i, group_of, users) -> int | None:
    """The layer a join of ``srcs`` folds into, or None when it must stay a layer."""
    layers = [s for s in srcs if s != INPUT]
    ancestors = {s: _ancestors(groups, s) for s in layers}
    maximal = [s for s in layers if not any(s in ancestors[t] for t in layers if t != s)]
    memo: dict = {}
    target = max(maximal, key=lambda s: (_depth(groups, s, memo), s))
    # fold only when the join is the one reader of that layer's output
    reads = [j for j in op.inputs if group_of.get(j) == target]
    out_op = groups[target].out_op
    if all(j == out_op for j in reads) and users[out_op] == 1:
        return target
    return None


def _order(groups: list[_Group], out_group: int, notes: list[str]) -> list[_Group]:
    """The layers that reach ``out_group``, in a topological order (ties by creation)."""
    keep = _ancestors(groups, out_group) | {out_group}
    dropped = [g.name for k, g in enumerate(groups) if k not in keep]
    if dropped:
        notes.append(f"dropped {len(dropped)} layer(s) whose output does not reach the "
                     f"network's output: {', '.join(dropped[:5])}"
                     + (" ..." if len(dropped) > 5 else ""))
    succ: dict[int, list[int]] = {k: [] for k in keep}
    indeg = {k: 0 for k in keep}
    for k in keep:
        for p in groups[k].preds:
            if p != INPUT:
                succ[p].append(k)
                indeg[k] += 1
    heap = [k for k in keep if indeg[k] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        k = heapq.heappop(heap)
        order.append(k)
        for s in succ[k]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(heap, s)
    return [groups[k] for k in order]


# --- the model entry ------------------------------------------------------------------


def model_entry(ops: list[Op], input_bytes: int, notes: list[str],
                seconds_ghz: float | None = None) -> dict:
    """The instance-format model entry of the folded ``ops``.

    With ``seconds_ghz`` the work is each layer's measured seconds times that clock;
    otherwise FLOPs / 1e9 x :data:`CYCLES_PER_FLOP`.
    """
    layers = fold(ops, notes)
    position = {id(g): k for k, g in enumerate(layers)}
    index = {g.order: k for k, g in enumerate(layers)}
    names = _layer_names(layers)
    nexts: list[list[str]] = [[] for _ in layers]
    sources = []
    for g in layers:
        k = position[id(g)]
        for p in g.preds:
            if p == INPUT:
                sources.append(k)
            else:
                nexts[index[p]].append(names[k])
    entry_layers = [
        {"name": names[k], "gcycles": _gcycles(g, seconds_ghz),
         "out_mb": g.out_bytes / MIB, "param_mb": g.param_bytes / MIB, "next": nexts[k]}
        for k, g in enumerate(layers)]
    if len(sources) > 1:
        name = next(n for n in ["input"] + [f"input_{k}" for k in range(1, len(names) + 1)]
                    if n not in names)
        entry_layers.insert(0, {"name": name, "gcycles": 0.0, "out_mb": input_bytes / MIB,
                                "param_mb": 0.0, "next": [names[k] for k in sources]})
        notes.append(f"{len(sources)} layers read the network input; a weightless "
                     f"{name!r} layer fans it out")
    return {"input_mb": input_bytes / MIB, "layers": entry_layers}


def _gcycles(g: _Group, seconds_ghz: float | None) -> float:
    if seconds_ghz is not None:
        return g.seconds * seconds_ghz
    return g.flops / 1e9 * CYCLES_PER_FLOP


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        base, k = n, seen.get(n, 0)
        while n in seen:
            k += 1
            n = f"{base}_{k}"
        seen[base] = k
        seen[n] = 0
        out.append(n)
    return out


def group_blocks(entry: dict) -> dict:
    """``entry`` with the layers between consecutive cut layers merged into one.

    A cut layer is one that every path from the input layer to the output layer passes
    through; in a topological order it is a layer that no edge jumps over.  A block's
    work and weights are the sums of its layers', its output its cut layer's output, and
    its name the longest common module path of its layers (else the cut layer's name).
    """
    layers = entry["layers"]
    position = {layer["name"]: k for k, layer in enumerate(layers)}
    reach = [k for k in range(len(layers))]  # furthest position an edge from <= k lands
    furthest = 0
    for k, layer in enumerate(layers):
        for succ in layer["next"]:
            furthest = max(furthest, position[succ])
        reach[k] = furthest
    cuts = [k for k in range(len(layers)) if k == 0 or reach[k - 1] <= k]
    blocks, start = [], 0
    for cut in cuts:
        blocks.append(layers[start:cut + 1])
        start = cut + 1
    names = _unique_names([_block_name(b) for b in blocks])
    merged = [{"name": names[b],
               "gcycles": math.fsum(x["gcycles"] for x in block),
               "out_mb": block[-1]["out_mb"],
               "param_mb": math.fsum(x["param_mb"] for x in block),
               "next": [names[b + 1]] if b + 1 < len(blocks) else []}
              for b, block in enumerate(blocks)]
    return {"input_mb": entry["input_mb"], "layers": merged}


def _block_name(block: list[dict]) -> str:
    if len(block) == 1:
        return block[0]["name"]
    return _common_path([layer["name"] for layer in block]) or block[-1]["name"]


# --- the whole job --------------------------------------------------------------------


def _cpu_ghz() -> float | None:
    """This CPU's maximum clock in GHz, from sysfs or /proc/cpuinfo; None if unknown."""
    sysfs = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    try:
        return int(sysfs.read_text()) / 1e6
    except (OSError, ValueError):
        pass
    try:
        mhz = [float(line.split(":")[1]) for line in open("/proc/cpuinfo")
               if line.lower().startswith("cpu mhz")]
        return max(mhz) / 1e3 if mhz else None
    except OSError:
        return None


def record_ops(net, x, notes: list[str], time_ops: bool = False,
               method: str | None = None) -> tuple[list[Op], str]:
    """The ops of ``net`` on ``x``: by ``torch.fx``, else by hooks (noted)."""
    if method != "hooks":
        try:
            return trace_fx(net, x, time_ops), "fx"
        except ProfileError:
            raise
        except Exception as exc:
            if method == "fx":
                raise
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            notes.append(f"torch.fx could not trace the network ({reason}); "
                         "recorded it with module hooks instead")
    return trace_hooks(net, x, time_ops), "hooks"


def profile_model(target: str, input_shape: tuple[int, ...], granularity: str = "layer",
                  measure: bool = False, repeats: int = 5, ghz: float | None = None
                  ) -> Profile:
    """Profile the network of factory ``target`` on an input of ``input_shape``.

    Parameters
    ----------
    target : str
        ``package.module:factory`` or ``path/to/file.py:factory``.
    input_shape : tuple of int
        Shape of the float32 input, batch first.
    granularity : {"layer", "block"}
        One layer per compute node, or per block between cut layers.
    measure : bool
        Time the layers (``repeats`` runs after one warm-up, median) on one thread of
        this CPU; ``gcycles`` = seconds x ``ghz`` (default: the CPU's maximum clock).

    Raises
    ------
    ProfileError
        With a one-line reason for every network or input it cannot profile.
    """
    import torch

    if granularity not in ("layer", "block"):
        raise ProfileError(f"granularity {granularity!r}: expected layer or block")
    factory = load_factory(target)
    net = build_network(factory, target, "meta")
    x = torch.empty(input_shape, dtype=torch.float32, device="meta")
    notes: list[str] = []
    try:
        ops, method = record_ops(net, x, notes)
    except ProfileError:
        raise
    except Exception as exc:
        raise ProfileError(_run_error(target, input_shape, exc)) from None
    params = sum(p.numel() for p in net.parameters())
    flops = sum(op.flops for op in ops)
    seconds_ghz = None
    if measure:
        seconds_ghz = ghz or _cpu_ghz()
        if not seconds_ghz:
            raise ProfileError("--measure: this CPU's clock is unknown; give it with --ghz")
        ops = _measured_ops(factory, target, input_shape, ops, method, repeats)
    entry = model_entry(ops, _bytes(x), notes, seconds_ghz)
    if granularity == "block":
        entry = group_blocks(entry)
    return Profile(entry, method, notes, flops, params)


def _run_error(target: str, input_shape, exc: Exception) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"{target}: the network failed on an input of shape "
            f"{','.join(map(str, input_shape))}: {reason}")


def _measured_ops(factory, target, input_shape, ops, method, repeats) -> list[Op]:
    """``ops`` with ``seconds`` = the median of ``repeats`` timed runs on the CPU."""
    import torch

    net = build_network(factory, target, "cpu")
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = [record_ops(net, x, [], time_ops=True, method=method)[0]
                for _ in range(repeats + 1)][1:]
    finally:
        torch.set_num_threads(threads)
    if any(len(run) != len(ops) for run in runs):
        raise ProfileError(f"{target}: the network records a different graph on real "
                           "weights than on the meta device; cannot --measure it")
    return [replace(op, seconds=statistics.median(run[k].seconds for run in runs))
            for k, op in enumerate(ops)]


__all__ = ["CYCLES_PER_FLOP", "Profile", "ProfileError", "fold", "group_blocks",
           "load_factory", "model_entry", "parse_shape", "profile_model"]
