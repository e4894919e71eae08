"""An independent NumPy non-local block, written from the paper's formulas.

It loops over query positions and, for each, lists its key positions
explicitly, so it shares no reshaping or folding logic with the layer.
"""

import itertools

import numpy as np


def max_pool(x, pool):
    """Max-pools a channels-last array `(batch, s_1, ..., s_k, C)`, floor mode.

    An axis shorter than its pool gets one window, cut at the axis' end.
    """
    spatial = x.shape[1:-1]
    out_shape = tuple(max(s // p, 1) for s, p in zip(spatial, pool))
    out = np.empty((x.shape[0],) + out_shape + (x.shape[-1],), x.dtype)
    for idx in itertools.product(*[range(s) for s in out_shape]):
        window = tuple(slice(i * p, (i + 1) * p) for i, p in zip(idx, pool))
        block = x[(slice(None),) + window + (slice(None),)]
        out[(slice(None),) + idx + (slice(None),)] = block.reshape(
            x.shape[0], -1, x.shape[-1]
        ).max(axis=1)
    return out


def affine(x, kernel, bias):
    return x @ kernel + bias


def non_local(
    x,
    params,
    mode,
    pool,
    attended,
    scale=1.0,
    residual=True,
    norm="batch_norm",
    eps=1e-5,
    group_size=None,
    return_weights=False,
):
    """Forward pass of a non-local block in inference mode.

    Args:
        x: channels-last input, float64.
        params: dict with `theta`, `phi`, `g`, `out` as `(kernel, bias)`
            pairs, `concat` (the vector w_f), `bn` as
            `(gamma, beta, mean, var)` or `(gamma, beta)` for affine.
        mode: pairwise function name.
        pool: pool size per spatio-temporal axis.
        attended: indices of the axes whose positions attend to each other.
        scale: softmax logit scale.
        group_size: frames per attention group (videos).
        return_weights: also return a dict query position -> weights.

    Returns:
        The block output (and the weights, if asked).
    """
    if group_size is not None:
        b, t = x.shape[:2]
        grouped = x.reshape((b * t // group_size, group_size) + x.shape[2:])
        z = non_local(grouped, params, mode, pool, attended, scale, residual, norm, eps)
        return z.reshape(x.shape)

    pooled = max_pool(x, pool)
    if mode == "gaussian":
        theta, phi = x, pooled
    else:
        theta = affine(x, *params["theta"])
        phi = affine(pooled, *params["phi"])
    g = affine(pooled, *params["g"])
    inner = g.shape[-1]
    spatial, key_spatial = x.shape[1:-1], pooled.shape[1:-1]
    y = np.zeros(x.shape[:-1] + (inner,))
    weights_by_query = {}
    for b in range(x.shape[0]):
        for qi in itertools.product(*[range(s) for s in spatial]):
            keys = [
                kj
                for kj in itertools.product(*[range(s) for s in key_spatial])
                if all(kj[a] == qi[a] for a in range(len(spatial)) if a not in attended)
            ]
            q = theta[(b,) + qi]
            k = np.stack([phi[(b,) + kj] for kj in keys])
            v = np.stack([g[(b,) + kj] for kj in keys])
            if mode in ("gaussian", "embedded_gaussian"):
                f = np.exp(scale * (k @ q) - np.max(scale * (k @ q)))
                w = f / f.sum()
            elif mode == "dot_product":
                w = (k @ q) / len(keys)
            else:  # concatenation: relu(w_f . [theta_i, phi_j]) / M
                wf = params["concat"]
                f = np.array([max(0.0, wf @ np.concatenate([q, kk])) for kk in k])
                w = f / len(keys)
            y[(b,) + qi] = w @ v
            weights_by_query[(b,) + qi] = w
    out = affine(y, *params["out"])
    if norm == "batch_norm":
        gamma, beta, mean, var = params["bn"]
        out = (out - mean) / np.sqrt(var + eps) * gamma + beta
    elif norm == "affine":
        gamma, beta = params["bn"]
        out = out * gamma + beta
    z = x + out if residual else out
    if return_weights:
        return z, weights_by_query
    return z
