"""A plain numpy HS-LSTM, written from the paper (Eqs. 1-6, 10, Section 3.2) and
docs/model.md ("HS-LSTM" and "HS-LSTM readings") alone.

It shares no code with ``kavan_tf``: weights come in as a dict of arrays, and
every equation is spelled out here. The cells are tested against it
(tests/test_hs_lstm.py), so a misreading in the package cannot hide behind
the same misreading in its test.

Weights (``params``), all numpy arrays:

- ``tier{l}``: ``{"W", "U", "b"}`` for the LSTM of tier ``l`` (1-based, all
  tiers but the last): ``z = [input] W + h U + b``, the gates in the order
  input, forget, candidate, output (``T_{d+D,4d}`` of Eq. 1, split by rows).
- ``last``: the same for the last tier, whose input is ``[x_t, H]``
  (context as input) or ``x_t``.
- ``att``: ``{"A_c", "b", "A_h", "A_H", "v", "w_res"}`` of Eqs. 4-6 and 10;
  ``None`` without attention (``x_t`` is the mean of the cells).
"""

from __future__ import annotations

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step(x, h, c, p):
    """Eqs. 1-3."""
    z = x @ p["W"] + h @ p["U"] + p["b"]
    d = h.shape[-1]
    i, f, g, o = (z[:, k * d : (k + 1) * d] for k in range(4))
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def attend(C, h, H, p):
    """Eqs. 5 (10 with ``H``), 6 and 4 for one frame ``C`` ``[B, K, D]``."""
    if p is None:  # no attention: average pooling, uniform masks
        return C.mean(axis=1), np.full(C.shape[:2], 1.0 / C.shape[1])
    pre = C @ p["A_c"] + p["b"] + (h @ p["A_h"])[:, None, :]
    if H is not None:
        pre = pre + (H @ p["A_H"])[:, None, :]
    scores = (np.tanh(pre) @ p["v"])[..., 0]  # [B, K]
    scores = scores - scores.max(axis=1, keepdims=True)
    alpha = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    x = ((alpha + p["w_res"])[..., None] * C).sum(axis=1)
    return x, alpha


def hs_lstm(frames, params, *, node_size, tiers, tier1="frame", context="input"):
    """Runs HS-LSTM over ``frames`` ``[B, T, K, D]``.

    Returns:
        ``(representation [B, d], masks [B, T, K], segments [B, nodes, tiers - 1, d])``.
    """
    batch, steps = frames.shape[:2]
    d = params["last"]["U"].shape[0]
    state = {tier: (np.zeros((batch, d)), np.zeros((batch, d))) for tier in range(1, tiers + 1)}
    masks, segments = [], []
    for start in range(0, steps, node_size):
        node = frames[:, start : start + node_size]
        pooled = node.mean(axis=2)  # [B, n, D]: un-attended features
        # Tier 1: the node's pooled frames, or their mean in one step.
        h, c = state[1]
        inputs = [pooled.mean(axis=1)] if tier1 == "node" else list(pooled.transpose(1, 0, 2))
        for x in inputs:
            h, c = lstm_step(x, h, c, params["tier1"])
        state[1] = (h, c)
        H = [h]
        total = h  # sum of the earlier tiers' segment representations
        for tier in range(2, tiers):
            h, c = state[tier]
            if context == "state":
                h = total
            for t in range(node_size):
                x = pooled[:, t]
                if context == "input":
                    x = np.concatenate([x, total], -1)
                h, c = lstm_step(x, h, c, params[f"tier{tier}"])
            state[tier] = (h, c)
            H.append(h)
            total = total + h
        # The last tier: attention with the context in its score (Eq. 10).
        h, c = state[tiers]
        if context == "state":
            h = total
        for t in range(node_size):
            x, alpha = attend(node[:, t], h, total, params["att"])
            if context == "input":
                x = np.concatenate([x, total], -1)
            h, c = lstm_step(x, h, c, params["last"])
            masks.append(alpha)
        state[tiers] = (h, c)
        segments.append(np.stack(H, axis=1))
    return state[tiers][0], np.stack(masks, axis=1), np.stack(segments, axis=1)
