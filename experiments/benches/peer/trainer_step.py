"""The trainer benchmark's two steps in PyTorch on the CPU, for comparison with
`cargo bench -p archforge-experiments --bench trainer`.

Both steps are one SGD step (learning rate 0.05, momentum 0.9 without dampening, weight decay
5e-4, cross-entropy) on a random batch of 64 images of 1x28x28 with 10 classes:
- the reference CNN: three conv3x3-BN-ReLU blocks of 16, 32 and 32 channels, 2x2 max-pools after
  the first two, global average pooling and a linear classifier;
- the supernet step: a NAS-Bench-201 network (C = 8, N = 1) whose cell cycles through the same
  three cells as the Rust bench, one per step.

Usage: python3 trainer_step.py [threads=2] [seconds=10]   (needs `pip install torch`)
Prints the median and mean milliseconds of one step for each.
"""

import statistics
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

# NAS-Bench-201's edges (from, to) and the three cells the Rust bench cycles through, as
# operation indices: 0 none, 1 skip_connect, 2 nor_conv_1x1, 3 nor_conv_3x3, 4 avg_pool_3x3.
EDGES = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
CELLS = [[3, 2, 1, 4, 0, 3], [3, 3, 3, 3, 3, 3], [1, 4, 2, 0, 3, 2]]


def relu_conv_bn(c_in, c_out, k, stride):
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


class Zero(nn.Module):
    def forward(self, x):
        return torch.zeros_like(x)


def edge_op(op, c):
    if op == 0:
        return Zero()
    if op == 1:
        return nn.Identity()
    if op == 2:
        return relu_conv_bn(c, c, 1, 1)
    if op == 3:
        return relu_conv_bn(c, c, 3, 1)
    return nn.AvgPool2d(3, 1, 1, count_include_pad=False)


class SharedCell(nn.Module):
    """Every operation on every edge, as a supernet holds them; a forward pass runs one cell."""

    def __init__(self, c):
        super().__init__()
        self.edges = nn.ModuleList(
            nn.ModuleList(edge_op(op, c) for op in range(5)) for _ in EDGES
        )

    def forward(self, x, cell):
        nodes = [x]
        for to in (1, 2, 3):
            terms = [
                self.edges[e][cell[e]](nodes[frm])
                for e, (frm, j) in enumerate(EDGES)
                if j == to
            ]
            nodes.append(sum(terms))
        return nodes[3]


class Reduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.a = relu_conv_bn(c_in, c_out, 3, 2)
        self.b = relu_conv_bn(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x):
        return self.b(self.a(x)) + self.shortcut(x)


class Supernet(nn.Module):
    """NAS-Bench-201's macro skeleton with one shared cell per stage (N = 1)."""

    def __init__(self, c=8, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.cell0 = SharedCell(c)
        self.reduce1 = Reduction(c, 2 * c)
        self.cell1 = SharedCell(2 * c)
        self.reduce2 = Reduction(2 * c, 4 * c)
        self.cell2 = SharedCell(4 * c)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU())
        self.classifier = nn.Linear(4 * c, classes)

    def forward(self, x, cell):
        x = self.cell0(self.stem(x), cell)
        x = self.cell1(self.reduce1(x), cell)
        x = self.cell2(self.reduce2(x), cell)
        x = self.lastact(x).mean((2, 3))
        return self.classifier(x)


def reference_cnn(classes=10):
    layers, c_in = [], 1
    for i, c in enumerate([16, 32, 32]):
        layers += [nn.Conv2d(c_in, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        if i < 2:
            layers.append(nn.MaxPool2d(2, 2))
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, classes)]
    return nn.Sequential(*layers)


def time_steps(step, seconds):
    for _ in range(10):
        step()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3, statistics.fmean(times) * 1e3, len(times)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    labels = torch.arange(64) % 10

    def sgd(model):
        return torch.optim.SGD(
            model.parameters(), lr=0.05, momentum=0.9, dampening=0.0, weight_decay=5e-4
        )

    cnn = reference_cnn()
    cnn_opt = sgd(cnn)

    def cnn_step():
        cnn_opt.zero_grad(set_to_none=True)
        F.cross_entropy(cnn(images), labels).backward()
        cnn_opt.step()

    net = Supernet()
    net_opt = sgd(net)
    turn = [0]

    def supernet_step():
        turn[0] = (turn[0] + 1) % len(CELLS)
        net_opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(images, CELLS[turn[0]]), labels).backward()
        net_opt.step()

    print(f"torch {torch.__version__}, {threads} threads")
    for name, step in [
        ("reference CNN SGD step (batch 64, 1x28x28)", cnn_step),
        ("supernet step (NB201 C=8 N=1, batch 64, 1x28x28)", supernet_step),
    ]:
        median, mean, n = time_steps(step, seconds)
        print(f"{name}: median {median:.2f} ms, mean {mean:.2f} ms over {n} steps")


if __name__ == "__main__":
    main()
