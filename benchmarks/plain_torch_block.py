"""A plain PyTorch non-local block (embedded Gaussian), as a PyTorch user writes it.

The cross-framework baseline of the backend comparison: `Conv3d` 1×1×1
projections, `MaxPool3d` (1, 2, 2), the full affinity matrix, softmax,
BatchNorm after W (gamma initialised to zero), eager mode, channels first.
"""

import torch
from torch import nn


class PlainTorchNonLocal3D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        inner = channels // 2
        self.inner = inner
        self.theta = nn.Conv3d(channels, inner, 1)
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        self.pool = nn.MaxPool3d((1, 2, 2))
        self.out = nn.Conv3d(inner, channels, 1)
        self.bn = nn.BatchNorm3d(channels)
        nn.init.zeros_(self.bn.weight)

    def forward(self, x):
        b = x.shape[0]
        theta = self.theta(x).reshape(b, self.inner, -1).transpose(1, 2)
        pooled = self.pool(x)
        phi = self.phi(pooled).reshape(b, self.inner, -1)
        g = self.g(pooled).reshape(b, self.inner, -1).transpose(1, 2)
        affinity = torch.softmax(torch.bmm(theta, phi) * self.inner**-0.5, dim=-1)
        y = torch.bmm(affinity, g).transpose(1, 2).reshape(b, self.inner, *x.shape[2:])
        return x + self.bn(self.out(y))


def torch_steps(shape):
    """`(forward, forward_backward)` callables for a channels-last `shape`."""
    torch.manual_seed(0)
    block = PlainTorchNonLocal3D(shape[-1])
    n, t, h, w, c = shape
    x = torch.randn(n, c, t, h, w)

    def forward():
        block.eval()
        with torch.no_grad():
            return block(x)

    def forward_backward():
        block.train()
        xg = x.detach().requires_grad_(True)
        block.zero_grad()
        block(xg).square().mean().backward()
        return xg.grad

    return forward, forward_backward
