"""Reference networks written as ``torch.nn.Module``s (the standard architectures, no
weights), for ``offloadlab profile`` and for checking the profiler against the library.

Each factory takes no argument, so ``offloadlab profile
offloadlab.instances.torch_models:resnet18 --input-shape 1,3,224,224`` works.  The
layouts are those of :mod:`.architectures` (and the papers'): AlexNet is Caffe's
``bvlc_alexnet`` with LRN, ungrouped (EosDNN Table V; :func:`alexnet_grouped` is the
two-group original), for a 227x227 input; GoogLeNet is Caffe's ``bvlc_googlenet``
without auxiliary classifiers; the bottleneck ResNets put the stride on the first 1x1
convolution as the original paper (torchvision's v1.5 puts it on the 3x3, which changes
the FLOPs by about 3 % and nothing else).  ``vgg16_cifar`` and ``resnet32`` are the
library's CIFAR-10 variants (32x32 input).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, pad: int = 0,
               groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, pad, groups=groups), nn.ReLU(inplace=True)]


class Chain(nn.Module):
    """Named layers applied in order, with a flatten before the first linear layer."""

    def __init__(self, layers: list[tuple[str, nn.Module]]):
        super().__init__()
        first_fc = next(k for k, (_, layer) in enumerate(layers)
                        if isinstance(layer, nn.Linear))
        layers = layers[:first_fc] + [("flatten", nn.Flatten())] + layers[first_fc:]
        for name, layer in layers:
            self.add_module(name, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = layer(x)
        return x


def _alexnet(groups: int) -> Chain:
    layers = [
        ("conv1", nn.Conv2d(3, 96, 11, 4)), ("relu1", nn.ReLU(inplace=True)),
        ("norm1", nn.LocalResponseNorm(5, 1e-4, 0.75)), ("pool1", nn.MaxPool2d(3, 2)),
        ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=groups)),
        ("relu2", nn.ReLU(inplace=True)),
        ("norm2", nn.LocalResponseNorm(5, 1e-4, 0.75)), ("pool2", nn.MaxPool2d(3, 2)),
        ("conv3", nn.Conv2d(256, 384, 3, padding=1)), ("relu3", nn.ReLU(inplace=True)),
        ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=groups)),
        ("relu4", nn.ReLU(inplace=True)),
        ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=groups)),
        ("relu5", nn.ReLU(inplace=True)), ("pool5", nn.MaxPool2d(3, 2)),
        ("fc6", nn.Linear(256 * 6 * 6, 4096)), ("relu6", nn.ReLU(inplace=True)),
        ("drop6", nn.Dropout()),
        ("fc7", nn.Linear(4096, 4096)), ("relu7", nn.ReLU(inplace=True)),
        ("drop7", nn.Dropout()), ("fc8", nn.Linear(4096, 1000))]
    return Chain(layers)


def alexnet() -> nn.Module:
    """AlexNet (Caffe ``bvlc_alexnet`` layout, one tower: EosDNN Table V), 227x227."""
    return _alexnet(groups=1)


def alexnet_grouped() -> nn.Module:
    """AlexNet with two groups in conv2, conv4, conv5 (EosDNN Table IV's 0.7 GFLOPs)."""
    return _alexnet(groups=2)


def _vgg(stages: list[list[int]], fc: list[int], side: int) -> Chain:
    layers, c_in = [], 3
    for s, widths in enumerate(stages, start=1):
        for i, width in enumerate(widths, start=1):
            layers += [(f"conv{s}_{i}", nn.Conv2d(c_in, width, 3, padding=1)),
                       (f"relu{s}_{i}", nn.ReLU(inplace=True))]
            c_in = width
        layers.append((f"pool{s}", nn.MaxPool2d(2, 2)))
    n_in = c_in * (side // 2 ** len(stages)) ** 2
    for k, n_out in enumerate(fc, start=6):
        layers.append((f"fc{k}", nn.Linear(n_in, n_out)))
        if k < 5 + len(fc):
            layers += [(f"relu{k}", nn.ReLU(inplace=True)), (f"drop{k}", nn.Dropout())]
        n_in = n_out
    return Chain(layers)


def vgg16() -> nn.Module:
    """VGG16 (configuration D) for ImageNet, 224x224."""
    return _vgg([[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3], [4096, 4096, 1000],
                224)


def vgg19() -> nn.Module:
    """VGG19 (configuration E) for ImageNet, 224x224 (EosDNN Table VI)."""
    return _vgg([[64] * 2, [128] * 2, [256] * 4, [512] * 4, [512] * 4], [4096, 4096, 1000],
                224)


def vgg16_cifar() -> nn.Module:
    """The library's VGG16 for CIFAR-10: 13 convolutions, fc 512-512-10, 32x32."""
    return _vgg([[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3], [512, 512, 10], 32)


class Inception(nn.Module):
    """GoogLeNet inception module: 1x1, 1x1-3x3, 1x1-5x5 and pool-1x1, concatenated."""

    def __init__(self, c_in: int, n1: int, n3r: int, n3: int, n5r: int, n5: int,
                 npool: int):
        super().__init__()
        self.branch1 = nn.Sequential(*_conv_relu(c_in, n1, 1))
        self.branch2 = nn.Sequential(*_conv_relu(c_in, n3r, 1), *_conv_relu(n3r, n3, 3, pad=1))
        self.branch3 = nn.Sequential(*_conv_relu(c_in, n5r, 1), *_conv_relu(n5r, n5, 5, pad=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *_conv_relu(c_in, npool, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                          self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """GoogLeNet (Caffe ``bvlc_googlenet``, no auxiliary classifiers), 224x224."""

    def __init__(self):
        super().__init__()
        from .architectures import GOOGLENET_INCEPTION

        self.stem = nn.Sequential(
            *_conv_relu(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.LocalResponseNorm(5, 1e-4, 0.75), *_conv_relu(64, 64, 1),
            *_conv_relu(64, 192, 3, pad=1), nn.LocalResponseNorm(5, 1e-4, 0.75),
            nn.MaxPool2d(3, 2, ceil_mode=True))
        blocks, c_in = [], 192
        for module, n1, n3r, n3, n5r, n5, npool in GOOGLENET_INCEPTION:
            blocks.append((f"inception{module}", Inception(c_in, n1, n3r, n3, n5r, n5, npool)))
            c_in = n1 + n3 + n5 + npool
            if module in ("3b", "4e"):
                blocks.append((f"pool{module[0]}", nn.MaxPool2d(3, 2, ceil_mode=True)))
        self.blocks = nn.Sequential()
        for name, block in blocks:
            self.blocks.add_module(name, block)
        self.pool = nn.AvgPool2d(7, 1)
        self.drop = nn.Dropout(0.4)
        self.fc = nn.Linear(c_in, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.blocks(self.stem(x)))
        return self.fc(self.drop(torch.flatten(x, 1)))


def googlenet() -> nn.Module:
    """GoogLeNet, 224x224."""
    return GoogLeNet()


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm; the shortcut is added after the second."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int, projection: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        self.pad = 0
        if stride != 1 or c_in != width:
            if projection:
                self.downsample = nn.Sequential(nn.Conv2d(c_in, width, 1, stride, bias=False),
                                                nn.BatchNorm2d(width))
            else:  # option A: subsample and pad with zero channels (no weights)
                self.pad = width - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            return self.downsample(x)
        if self.pad:
            x = nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.pad))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1-3x3-1x1 with BatchNorm, stride on the first 1x1 (original ResNet)."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int, projection: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != 4 * width:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, 4 * width, 1, stride, bias=False),
                                            nn.BatchNorm2d(4 * width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet for ImageNet (7x7 stem, max pool) or CIFAR (3x3 stem), global pool, fc."""

    def __init__(self, block: type, depths: list[int], widths: list[int],
                 n_classes: int = 1000, cifar: bool = False):
        super().__init__()
        c_in = widths[0]
        if cifar:
            self.conv1 = nn.Conv2d(3, c_in, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, c_in, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(c_in)
        self.relu = nn.ReLU(inplace=True)
        for stage, (depth, width) in enumerate(zip(depths, widths), start=1):
            blocks = []
            for index in range(depth):
                stride = 2 if index == 0 and stage > 1 else 1
                blocks.append(block(c_in, width, stride, projection=not cifar))
                c_in = width * block.expansion
            self.add_module(f"layer{stage}", nn.Sequential(*blocks))
        self.n_stages = len(depths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in range(1, self.n_stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18() -> nn.Module:
    """ResNet-18, 224x224."""
    return ResNet(BasicBlock, [2, 2, 2, 2], [64, 128, 256, 512])


def resnet34() -> nn.Module:
    """ResNet-34, 224x224 (TMOA)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], [64, 128, 256, 512])


def resnet101() -> nn.Module:
    """ResNet-101, 224x224 (EosDNN)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], [64, 128, 256, 512])


def resnet32() -> nn.Module:
    """ResNet-32 for CIFAR-10 (option-A shortcuts), 32x32 (MTL-A3C)."""
    return ResNet(BasicBlock, [5, 5, 5], [16, 32, 64], n_classes=10, cifar=True)


#: Factories by name, with the input shape each is built for.
REFERENCE_NETWORKS = {
    "alexnet": (alexnet, (1, 3, 227, 227)),
    "alexnet_grouped": (alexnet_grouped, (1, 3, 227, 227)),
    "vgg16": (vgg16, (1, 3, 224, 224)),
    "vgg19": (vgg19, (1, 3, 224, 224)),
    "vgg16_cifar": (vgg16_cifar, (1, 3, 32, 32)),
    "googlenet": (googlenet, (1, 3, 224, 224)),
    "resnet18": (resnet18, (1, 3, 224, 224)),
    "resnet34": (resnet34, (1, 3, 224, 224)),
    "resnet101": (resnet101, (1, 3, 224, 224)),
    "resnet32": (resnet32, (1, 3, 32, 32)),
}
