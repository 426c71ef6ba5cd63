"""Ordinary least squares from GIF features to emotion intensities (Jou et al. 2014).

The regression shared by the Table 2 baselines (paper 4.3): one linear map with
an intercept from a feature vector to all emotion targets at once,
``y = x W + b``. Each emotion's column is an independent least-squares problem,
so solving them together gives the same answer as 17 separate fits.

Example:

```python
import numpy as np
from kavan_tf.baselines.ols import OrdinaryLeastSquares

x = np.random.default_rng(0).normal(size=(100, 5))
y = x @ np.ones((5, 17)) + 0.5
model = OrdinaryLeastSquares().fit(x, y)
model.predict(x[:2])      # == y[:2]
```
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


class OrdinaryLeastSquares:
    """Linear least squares with an unpenalised intercept.

    With ``ridge=0`` (the default, the paper's "ordinary least squares") the
    solution is ``numpy.linalg.lstsq`` on centred features, which is the
    minimum-norm solution when the features are collinear or outnumber the
    examples. ``ridge > 0`` adds ``ridge * ||W||^2`` (not the intercept) for
    numerical stability; it acts on the raw feature scale.

    Args:
        ridge: Non-negative L2 penalty on the weights.

    Attributes:
        coef_: ``[num_features, num_targets]`` weights, after :meth:`fit`.
        intercept_: ``[num_targets]`` intercept, after :meth:`fit`.
        rank_: Rank of the centred feature matrix (``ridge=0`` only).
    """

    def __init__(self, ridge: float = 0.0) -> None:
        if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or ridge < 0:
            raise ValueError(f"`ridge` must be a non-negative number. Received: ridge={ridge!r}")
        self.ridge = float(ridge)
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None
        self.rank_: int | None = None

    def fit(self, features: np.ndarray, targets: np.ndarray) -> OrdinaryLeastSquares:
        """Fits the weights and intercept.

        Args:
            features: ``[N, D]`` finite features.
            targets: ``[N, E]`` (or ``[N]``) finite targets.

        Returns:
            ``self``.

        Raises:
            ValueError: On mismatched shapes, no examples or non-finite values.
        """
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(targets, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"`features` must be 2-D [N, D]. Received: shape={x.shape}")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise ValueError(
                "`targets` must be [N, E] with the same N as `features`. "
                f"Received: features shape={x.shape}, targets shape={y.shape}"
            )
        if x.shape[0] == 0:
            raise ValueError("Cannot fit on zero examples. Received: features shape=(0, ...)")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("`features` and `targets` must be finite (drop invalid rows first)")
        x_mean = x.mean(axis=0)
        y_mean = y.mean(axis=0)
        xc = x - x_mean
        yc = y - y_mean
        if self.ridge == 0.0:
            coef, _, rank, _ = np.linalg.lstsq(xc, yc, rcond=None)
            self.rank_ = int(rank)
            if rank < x.shape[1]:
                logger.info(
                    "OLS: features have rank %d < %d dimensions; using the minimum-norm solution",
                    rank,
                    x.shape[1],
                )
        else:
            gram = xc.T @ xc + self.ridge * np.eye(x.shape[1])
            coef = np.linalg.solve(gram, xc.T @ yc)
            self.rank_ = None
        self.coef_ = coef
        self.intercept_ = y_mean - x_mean @ coef
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicts ``[N, E]`` targets (float64) for ``[N, D]`` features.

        Non-finite feature rows give non-finite predictions.

        Raises:
            RuntimeError: Before :meth:`fit`.
            ValueError: On a feature width other than the fitted one.
        """
        if self.coef_ is None or self.intercept_ is None:
            raise RuntimeError("OrdinaryLeastSquares.predict called before fit")
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.coef_.shape[0]:
            raise ValueError(
                f"`features` must be [N, {self.coef_.shape[0]}]. Received: shape={x.shape}"
            )
        return x @ self.coef_ + self.intercept_
