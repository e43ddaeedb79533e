"""Layer-by-layer profiles of DNN architectures, computed from their configurations.

Every architecture is written as a short list of layer configurations (pure Python, no
deep-learning framework) and evaluated by :class:`Net`, which tracks tensor shapes and
counts, per layer, the parameters, the multiply-accumulates (MACs) and the output elements.

Conventions
-----------
* ``param_mb`` = (weights + biases) x 4 bytes / 2**20 (float32, MiB).  Convolutions of the
  ResNets have no bias; their BatchNorm scale and shift (2 values per channel) are counted
  with the convolution (running statistics are buffers, not parameters).
* MACs of a convolution = out_h x out_w x k_h x k_w x (c_in / groups) x c_out; of a fully
  connected layer = n_in x n_out.  Biases are not counted as MACs.
* ``out_mb`` = output elements x 4 bytes / 2**20.
* ``gcycles`` (models built only from their architecture) = FLOPs / 1e9 with one FLOP per
  cycle: 2 x MACs for convolutions and fully connected layers, one operation per window
  element for pooling (out elements x window), one add per output element where a residual
  addition is folded into a convolution.  LRN is not used by these models.

Models matching the layer-profile workbook
------------------------------------------
``alexnet``, ``vgg19``, ``googlenet`` and ``resnet101`` use the workbook's layer names so
that :func:`param_mb_by_layer` gives the ``param_mb`` of each workbook row.

* AlexNet, EosDNN Table V (13 layers): conv1, norm1, pool1, conv2, norm2, pool2, conv3,
  conv4, conv5, pool5, fc6, fc7, fc8 (Caffe ``bvlc_alexnet`` order, 227x227 input).  Table V
  is the *ungrouped* one-tower network: conv2 = 256x96x5x5 + 256 = 614 656 values =
  2.344726563 MiB (with the original two groups it would be 1.172851563 MiB), and likewise
  conv4/conv5.  Table IV's 0.7 GFLOPs, however, is the *grouped* network (0.72 G MACs; the
  ungrouped one has 1.14 G).  Both variants are available (``alexnet_net(grouped=...)``);
  ``param_mb`` uses the ungrouped one (Table V, which EosDNN uploads).  The workbook has 11
  rows: the two LRN layers have no weights and are folded into the convolution that precedes
  them (norm1 -> conv1, norm2 -> conv2; their time is part of the profiled rows).
* VGG19, Table VI: the 24 rows of the workbook one to one.
* GoogLeNet: Caffe ``bvlc_googlenet`` without the two auxiliary classifiers (inference).
* ResNet-101: the original (Caffe) bottleneck with the stride on ``branch2a``; the workbook's
  ``branch1`` row of an identity block stands for the shortcut (with the folded add) and has
  no weights.

Models not in the workbook
--------------------------
``resnet34`` (ImageNet 224x224, TMOA), ``vgg16``, ``nin`` and ``resnet32`` (CIFAR-10 32x32,
MTL-A3C).  Residual additions are folded into the block's last convolution: the block input
feeds both the first convolution and the shortcut (identity, or a 1x1 projection), and both
lead to the last convolution, which performs the add.  ResNet-32 uses the parameter-free
option-A shortcut (subsampling and zero padding), so its shortcut is only an edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BYTES_PER_VALUE = 4
MIB = 2**20
IMAGENET_HW = 224
CIFAR_HW = 32


@dataclass(frozen=True)
class LayerSpec:
    """One layer of an architecture with its derived counts.

    Attributes
    ----------
    name, kind : str
        Layer name and kind (conv, fc, pool, lrn, concat, identity).
    inputs : tuple of str
        Names of the layers whose outputs it reads (empty: the network input).
    out_shape : tuple of int
        (channels, height, width) of its output.
    weights, biases : int
        Parameter counts (biases include a BatchNorm's scale and shift).
    macs : int
        Multiply-accumulates.
    ops : int
        Other operations (pooling window elements, folded residual adds).
    kernel, c_in : int
        Kernel side and input channels (for the roofline counts).
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    out_shape: tuple[int, int, int]
    weights: int = 0
    biases: int = 0
    macs: int = 0
    ops: int = 0
    kernel: int = 1
    c_in: int = 0

    @property
    def params(self) -> int:
        """Weights plus biases."""
        return self.weights + self.biases

    @property
    def param_mb(self) -> float:
        """Parameter size, MiB of float32."""
        return self.params * BYTES_PER_VALUE / MIB

    @property
    def out_elements(self) -> int:
        """Number of output values."""
        c, h, w = self.out_shape
        return c * h * w

    @property
    def out_mb(self) -> float:
        """Output size, MiB of float32."""
        return self.out_elements * BYTES_PER_VALUE / MIB

    @property
    def flops(self) -> int:
        """FLOPs: two per MAC plus the other operations."""
        return 2 * self.macs + self.ops


def _conv_side(side: int, kernel: int, stride: int, pad: int, ceil: bool) -> int:
    span = side + 2 * pad - kernel
    steps = math.ceil(span / stride) if ceil else span // stride
    return steps + 1


@dataclass
class Net:
    """Builder that records layers in a topological order and tracks shapes.

    Parameters
    ----------
    name : str
        Model name.
    in_shape : tuple of int
        (channels, height, width) of the network input.
    """

    name: str
    in_shape: tuple[int, int, int]
    layers: list[LayerSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_name: dict[str, LayerSpec] = {}

    # -- helpers ---------------------------------------------------------------------
    def shape_of(self, src: str | None) -> tuple[int, int, int]:
        """Output shape of layer ``src`` (the network input when None)."""
        return self.in_shape if src is None else self._by_name[src].out_shape

    @property
    def last(self) -> str:
        """Name of the most recently added layer."""
        return self.layers[-1].name

    def _add(self, spec: LayerSpec) -> str:
        if spec.name in self._by_name:
            raise ValueError(f"{self.name}: duplicate layer {spec.name!r}")
        self.layers.append(spec)
        self._by_name[spec.name] = spec
        return spec.name

    @staticmethod
    def _inputs(src: str | None, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
        return (() if src is None else (src,)) + extra

    # -- layer kinds -----------------------------------------------------------------
    def conv(self, name: str, src: str | None, c_out: int, kernel: int, stride: int = 1,
             pad: int = 0, groups: int = 1, bias: bool = True, bn: bool = False,
             residual: tuple[str, ...] = (), summed: tuple[str, ...] = ()) -> str:
        """Convolution.

        ``residual`` names shortcut layers added to the output (the add is folded in and
        counted); ``summed`` names further layers whose outputs are added to ``src`` to
        form the input (the workbook's ResNet-101 layout; the add is not counted).
        """
        c_in, h, w = self.shape_of(src)
        out_h = _conv_side(h, kernel, stride, pad, ceil=False)
        out_w = _conv_side(w, kernel, stride, pad, ceil=False)
        weights = c_out * (c_in // groups) * kernel * kernel
        biases = (c_out if bias else 0) + (2 * c_out if bn else 0)
        macs = out_h * out_w * kernel * kernel * (c_in // groups) * c_out
        adds = c_out * out_h * out_w if residual else 0
        return self._add(LayerSpec(name, "conv", self._inputs(src, summed + residual),
                                   (c_out, out_h, out_w), weights, biases, macs, adds,
                                   kernel, c_in))

    def fc(self, name: str, src: str | None, n_out: int, bias: bool = True) -> str:
        """Fully connected layer over the flattened input."""
        c, h, w = self.shape_of(src)
        n_in = c * h * w
        return self._add(LayerSpec(name, "fc", self._inputs(src), (n_out, 1, 1),
                                   n_in * n_out, n_out if bias else 0, n_in * n_out, 0,
                                   1, n_in))

    def pool(self, name: str, src: str | None, kernel: int, stride: int, pad: int = 0,
             ceil: bool = False, global_pool: bool = False) -> str:
        """Max or average pooling (``global_pool`` pools the whole map)."""
        c, h, w = self.shape_of(src)
        if global_pool:
            kernel, stride, pad = h, 1, 0
        out_h = _conv_side(h, kernel, stride, pad, ceil)
        out_w = _conv_side(w, kernel, stride, pad, ceil)
        window_ops = c * out_h * out_w * kernel * kernel
        return self._add(LayerSpec(name, "pool", self._inputs(src), (c, out_h, out_w),
                                   ops=window_ops, kernel=kernel, c_in=c))

    def lrn(self, name: str, src: str | None) -> str:
        """Local response normalisation (no weights; shape unchanged)."""
        return self._add(LayerSpec(name, "lrn", self._inputs(src), self.shape_of(src),
                                   c_in=self.shape_of(src)[0]))

    def concat(self, name: str, srcs: list[str]) -> str:
        """Channel concatenation."""
        shapes = [self.shape_of(s) for s in srcs]
        _, h, w = shapes[0]
        channels = sum(s[0] for s in shapes)
        return self._add(LayerSpec(name, "concat", tuple(srcs), (channels, h, w)))

    def identity(self, name: str, srcs: list[str], adds: bool = True) -> str:
        """Weightless pass-through of ``srcs`` (their sum when several)."""
        shape = self.shape_of(srcs[0])
        ops = shape[0] * shape[1] * shape[2] * (len(srcs) - 1) if adds else 0
        return self._add(LayerSpec(name, "identity", tuple(srcs), shape, ops=ops))

    # -- totals ----------------------------------------------------------------------
    @property
    def total_params(self) -> int:
        """Parameters of the whole model."""
        return sum(layer.params for layer in self.layers)

    @property
    def total_macs(self) -> int:
        """MACs of the whole model."""
        return sum(layer.macs for layer in self.layers)

    def successors(self) -> dict[str, list[str]]:
        """Successor names of every layer, in layer order."""
        succ: dict[str, list[str]] = {layer.name: [] for layer in self.layers}
        for layer in self.layers:
            for src in layer.inputs:
                succ[src].append(layer.name)
        return succ


# ---------------------------------------------------------------------------------------
# Models of the workbook (names as in the workbook)
# ---------------------------------------------------------------------------------------

def alexnet_net(grouped: bool = False) -> Net:
    """AlexNet, Caffe layout with LRN, 227x227 input.

    Parameters
    ----------
    grouped : bool
        Two groups in conv2, conv4 and conv5 (the original two-GPU network).  EosDNN
        Table V is the ungrouped network (False); Table IV's 0.7 GFLOPs is the grouped one.
    """
    groups = 2 if grouped else 1
    net = Net("alexnet", (3, 227, 227))
    net.conv("conv1", None, 96, 11, stride=4)
    net.lrn("norm1", net.last)
    net.pool("pool1", net.last, 3, 2)
    net.conv("conv2", net.last, 256, 5, pad=2, groups=groups)
    net.lrn("norm2", net.last)
    net.pool("pool2", net.last, 3, 2)
    net.conv("conv3", net.last, 384, 3, pad=1)
    net.conv("conv4", net.last, 384, 3, pad=1, groups=groups)
    net.conv("conv5", net.last, 256, 3, pad=1, groups=groups)
    net.pool("pool5", net.last, 3, 2)
    net.fc("fc6", net.last, 4096)
    net.fc("fc7", net.last, 4096)
    net.fc("fc8", net.last, 1000)
    return net


def _vgg_features(net: Net, stages: list[list[int]]) -> None:
    src = None
    for stage, widths in enumerate(stages, start=1):
        for index, width in enumerate(widths, start=1):
            src = net.conv(f"conv{stage}_{index}", src, width, 3, pad=1)
        src = net.pool(f"pool{stage}", src, 2, 2)


def vgg19_net() -> Net:
    """VGG19 (configuration E), 224x224 input; its 24 layers are Table VI's rows."""
    net = Net("vgg19", (3, IMAGENET_HW, IMAGENET_HW))
    _vgg_features(net, [[64] * 2, [128] * 2, [256] * 4, [512] * 4, [512] * 4])
    net.fc("fc6", net.last, 4096)
    net.fc("fc7", net.last, 4096)
    net.fc("fc8", net.last, 1000)
    return net


# (id, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) -- Szegedy et al., Table 1
GOOGLENET_INCEPTION = [
    ("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64),
    ("4a", 192, 96, 208, 16, 48, 64), ("4b", 160, 112, 224, 24, 64, 64),
    ("4c", 128, 128, 256, 24, 64, 64), ("4d", 112, 144, 288, 32, 64, 64),
    ("4e", 256, 160, 320, 32, 128, 128), ("5a", 256, 160, 320, 32, 128, 128),
    ("5b", 384, 192, 384, 48, 128, 128),
]


def inception_names(module: str) -> dict[str, str]:
    """Workbook names of the eight rows of inception module ``module`` (e.g. "4b")."""
    return {
        "b1": f"inception_conv_{module}1/1x1_s1",
        "b2_reduce": f"inception_conv_{module}2/1x1_s1",
        "b2": f"inception_conv_{module}2/3x3_s1",
        "b3_reduce": f"inception_conv_{module}3/1x1_s1",
        "b3": f"inception_conv_{module}3/5x5_s1",
        "b4_pool": f"inception_pool_{module}4/3x3_s1",
        "b4": f"inception_conv_{module}4/1x1_s1",
        "concat": f"inception_{module}/DepthConcat",
    }


def _inception(net: Net, src: str, spec: tuple) -> str:
    module, n1, n3r, n3, n5r, n5, npool = spec
    names = inception_names(module)
    b1 = net.conv(names["b1"], src, n1, 1)
    b2 = net.conv(names["b2_reduce"], src, n3r, 1)
    b2 = net.conv(names["b2"], b2, n3, 3, pad=1)
    b3 = net.conv(names["b3_reduce"], src, n5r, 1)
    b3 = net.conv(names["b3"], b3, n5, 5, pad=2)
    b4 = net.pool(names["b4_pool"], src, 3, 1, pad=1)
    b4 = net.conv(names["b4"], b4, npool, 1)
    return net.concat(names["concat"], [b1, b2, b3, b4])


def googlenet_net() -> Net:
    """GoogLeNet (Caffe ``bvlc_googlenet``, no auxiliary classifiers), 224x224 input."""
    net = Net("googlenet", (3, IMAGENET_HW, IMAGENET_HW))
    net.conv("conv1/7x7_s2", None, 64, 7, stride=2, pad=3)
    net.pool("pool1/3x3_s2", net.last, 3, 2, ceil=True)
    net.lrn("norm1", net.last)
    net.conv("conv2/1x1_s1", net.last, 64, 1)
    net.conv("conv2/3x3_s1", net.last, 192, 3, pad=1)
    net.lrn("norm2", net.last)
    src = net.pool("pool2/3x3_s2", net.last, 3, 2, ceil=True)
    pools_after = {"3b": "pool3/3x3_s2", "4e": "pool4/3x3_s2"}
    for spec in GOOGLENET_INCEPTION:
        src = _inception(net, src, spec)
        if spec[0] in pools_after:
            src = net.pool(pools_after[spec[0]], src, 3, 2, ceil=True)
    net.pool("pool5/7x7_s1", src, 7, 1)
    net.fc("fc6", net.last, 1000)
    return net


def block_letters(count: int) -> list[str]:
    """Block letters a, b, c, ... of a residual stage."""
    return [chr(ord("a") + i) for i in range(count)]


def resnet101_net() -> Net:
    """ResNet-101 with the workbook's names (``branch1`` in every block), 224x224 input.

    In an identity block the workbook's ``branch1`` is the shortcut; here it is a
    weightless identity layer, so only the first block of each stage has a projection.
    """
    net = Net("resnet101", (3, IMAGENET_HW, IMAGENET_HW))
    net.conv("conv1", None, 64, 7, stride=2, pad=3, bias=False, bn=True)
    block_in = [net.pool("pool1", net.last, 3, 2, ceil=True)]
    stages = [(2, 3, 64, 1), (3, 4, 128, 2), (4, 23, 256, 2), (5, 3, 512, 2)]
    for stage, blocks, width, stride in stages:
        for index, letter in enumerate(block_letters(blocks)):
            prefix = f"res{stage}{letter}"
            # the block input is the sum of the previous block's two outputs
            src, summed = block_in[-1], tuple(block_in[:-1])
            if index == 0:
                shortcut = net.conv(f"{prefix}_branch1", src, 4 * width, 1, stride=stride,
                                    bias=False, bn=True, summed=summed)
            else:
                shortcut = net.identity(f"{prefix}_branch1", block_in)
            x = net.conv(f"{prefix}_branch2a", src, width, 1,
                         stride=stride if index == 0 else 1, bias=False, bn=True,
                         summed=summed)
            x = net.conv(f"{prefix}_branch2b", x, width, 3, pad=1, bias=False, bn=True)
            x = net.conv(f"{prefix}_branch2c", x, 4 * width, 1, bias=False, bn=True)
            block_in = [shortcut, x]
    net.pool("pool2", block_in[-1], 7, 1, global_pool=True)
    net.fc("fc", net.last, 1000)
    return net


# ---------------------------------------------------------------------------------------
# Models built from their architecture only
# ---------------------------------------------------------------------------------------

def _basic_blocks(net: Net, src: str, stages: list[tuple[int, int, int]],
                  projection: bool, first_stage: int) -> str:
    """Stages of basic residual blocks; the add is folded into ``branch2b``."""
    for offset, (blocks, width, stride) in enumerate(stages):
        stage = first_stage + offset
        for index, letter in enumerate(block_letters(blocks)):
            prefix = f"res{stage}{letter}"
            block_stride = stride if index == 0 else 1
            changes_shape = block_stride != 1 or net.shape_of(src)[0] != width
            shortcut = src
            if changes_shape and projection:
                shortcut = net.conv(f"{prefix}_branch1", src, width, 1,
                                    stride=block_stride, bias=False, bn=True)
            x = net.conv(f"{prefix}_branch2a", src, width, 3, stride=block_stride,
                         pad=1, bias=False, bn=True)
            src = net.conv(f"{prefix}_branch2b", x, width, 3, pad=1, bias=False,
                           bn=True, residual=(shortcut,))
    return src


def resnet34_net() -> Net:
    """ResNet-34 for ImageNet (224x224), projection shortcuts where the shape changes."""
    net = Net("resnet34", (3, IMAGENET_HW, IMAGENET_HW))
    net.conv("conv1", None, 64, 7, stride=2, pad=3, bias=False, bn=True)
    src = net.pool("pool1", net.last, 3, 2, pad=1)
    src = _basic_blocks(net, src, [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)],
                        projection=True, first_stage=2)
    net.pool("pool5", src, 7, 1, global_pool=True)
    net.fc("fc", net.last, 1000)
    return net


def resnet32_net() -> Net:
    """ResNet-32 for CIFAR-10 (32x32), option-A (parameter-free) shortcuts."""
    net = Net("resnet32", (3, CIFAR_HW, CIFAR_HW))
    src = net.conv("conv1", None, 16, 3, pad=1, bias=False, bn=True)
    src = _basic_blocks(net, src, [(5, 16, 1), (5, 32, 2), (5, 64, 2)],
                        projection=False, first_stage=2)
    net.pool("pool", src, 8, 1, global_pool=True)
    net.fc("fc", net.last, 10)
    return net


def vgg16_net() -> Net:
    """VGG16 for CIFAR-10 (32x32): 13 convolutions, 5 pools, fc 512-512-10."""
    net = Net("vgg16", (3, CIFAR_HW, CIFAR_HW))
    _vgg_features(net, [[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3])
    net.fc("fc6", net.last, 512)
    net.fc("fc7", net.last, 512)
    net.fc("fc8", net.last, 10)
    return net


def nin_net() -> Net:
    """Network in Network for CIFAR-10 (Lin et al.; Caffe model-zoo configuration)."""
    net = Net("nin", (3, CIFAR_HW, CIFAR_HW))
    net.conv("conv1", None, 192, 5, pad=2)
    net.conv("cccp1", net.last, 160, 1)
    net.conv("cccp2", net.last, 96, 1)
    net.pool("pool1", net.last, 3, 2, ceil=True)
    net.conv("conv2", net.last, 192, 5, pad=2)
    net.conv("cccp3", net.last, 192, 1)
    net.conv("cccp4", net.last, 192, 1)
    net.pool("pool2", net.last, 3, 2, ceil=True)
    net.conv("conv3", net.last, 192, 3, pad=1)
    net.conv("cccp5", net.last, 192, 1)
    net.conv("cccp6", net.last, 10, 1)
    net.pool("pool3", net.last, 8, 1, global_pool=True)
    return net


ARCHITECTURES = {
    "alexnet": alexnet_net,
    "vgg19": vgg19_net,
    "googlenet": googlenet_net,
    "resnet101": resnet101_net,
    "resnet34": resnet34_net,
    "vgg16": vgg16_net,
    "nin": nin_net,
    "resnet32": resnet32_net,
}

#: Workbook layers that absorb an architecture layer absent from the workbook.
WORKBOOK_FOLDS = {"alexnet": {"norm1": "conv1", "norm2": "conv2"}}


def build(name: str) -> Net:
    """The architecture ``name`` (a key of :data:`ARCHITECTURES`)."""
    try:
        return ARCHITECTURES[name]()
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}") from None


def param_mb_by_layer(name: str) -> dict[str, float]:
    """``param_mb`` of every workbook layer of model ``name``.

    Architecture layers missing from the workbook (AlexNet's LRN layers) are folded into
    the layer given by :data:`WORKBOOK_FOLDS`; their weights (none) are added to it.
    """
    folds = WORKBOOK_FOLDS.get(name, {})
    sizes: dict[str, float] = {}
    for layer in build(name).layers:
        target = folds.get(layer.name, layer.name)
        sizes[target] = sizes.get(target, 0.0) + layer.param_mb
    return sizes


def model_from_architecture(name: str) -> dict:
    """The instance-format model entry of an architecture-only model.

    ``gcycles`` = FLOPs / 1e9 (one FLOP per cycle), ``out_mb`` and ``param_mb`` in MiB of
    float32, ``input_mb`` = the float32 input image.
    """
    net = build(name)
    succ = net.successors()
    channels, height, width = net.in_shape
    layers = [{"name": layer.name, "gcycles": layer.flops / 1e9, "out_mb": layer.out_mb,
               "param_mb": layer.param_mb, "next": succ[layer.name]}
              for layer in net.layers]
    return {"input_mb": channels * height * width * BYTES_PER_VALUE / MIB, "layers": layers}


def resnet34_roofline() -> list[dict]:
    """TMOA roofline counts (eqs. 8-10) of every ResNet-34 layer, in model order.

    Returns
    -------
    list of dict
        ``name``; ``z`` = M_i^2 Ck_i^2 C_(i-1) C_i (MACs, biases ignored as in TMOA);
        ``par`` = Ck_i^2 C_(i-1) C_i (weights, no biases); ``map`` = M_i^2 C_i (output
        values); ``paper_layer`` = the layer's index 1..34 in the paper's count of
        ResNet-34 (conv1, the 32 block convolutions, fc), None for pooling and projection
        shortcuts.  Multiply by 4 bytes for memory.
    """
    rows = []
    paper_layer = 0
    for layer in resnet34_net().layers:
        counted = layer.kind == "fc" or (layer.kind == "conv"
                                         and not layer.name.endswith("_branch1"))
        paper_layer += counted
        rows.append({"name": layer.name, "z": layer.macs, "par": layer.weights,
                     "map": layer.out_elements,
                     "paper_layer": paper_layer if counted else None})
    return rows
