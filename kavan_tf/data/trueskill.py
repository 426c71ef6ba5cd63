"""TrueSkill ratings for pairwise votes, with GIFGIF's constants.

The constants: docs/decisions.md#gifgif-votes-and-trueskill-scores.

One Gaussian rating ``N(mu, sigma^2)`` per (GIF, emotion), updated by the
standard two-player TrueSkill rules of Herbrich, Minka and Graepel (NIPS 2007):
before a match ``tau^2`` is added to both variances, then with
``c^2 = 2 beta^2 + sigma_w^2 + sigma_l^2``, ``t = (mu_w - mu_l) / c`` and
``e = draw_margin / c``::

    mu_w    += sigma_w^2 / c * v(t, e)     mu_l    -= sigma_l^2 / c * v(t, e)
    sigma_w^2 *= 1 - sigma_w^2 / c^2 * w(t, e)   (the same for l)

where ``v, w`` are the win functions ``v(x) = N(x) / Phi(x)``,
``w(x) = v(x) (v(x) + x)`` at ``x = t - e``, or the draw functions.

The updates are sequential: vote ``i`` sees the ratings left by votes
``0 .. i-1``. :class:`TrueSkillRatings` keeps that order exactly but groups the
votes into *waves*: a vote's wave is one more than the last wave that touched
either of its ratings, so no rating appears twice in a wave and every rating
sees its votes in file order. A wave is then one vectorised numpy update. On
GIFGIF-sized dumps a few hundred waves cover millions of votes.

Example:

```python
import numpy as np
from kavan_tf.data.trueskill import TrueSkillRatings

ratings = TrueSkillRatings(num_ratings=3)
# rating 0 beats 1, then 1 and 2 draw.
ratings.apply(winner=np.array([0, 1]), loser=np.array([1, 2]), draw=np.array([False, True]))
ratings.mu, ratings.sigma
```
"""

from __future__ import annotations

import logging
import math
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import special

logger = logging.getLogger(__name__)

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
# Below this, Phi(x) has lost its precision; v and w take their asymptotes
# (v(x) -> -x, w(x) -> 1), as the `trueskill` package does.
_TINY = 1e-300
# Waves with fewer votes than this are cheaper in scalar Python than in numpy.
_SMALL_WAVE = 48


def _phi(x: float) -> float:
    """Standard normal CDF, accurate in the lower tail."""
    return 0.5 * math.erfc(-x * _INV_SQRT_2)


def _norm_ppf(p: float) -> float:
    """Standard normal quantile."""
    return float(special.ndtri(p))


@dataclass(frozen=True)
class TrueSkillParams:
    """TrueSkill constants; the defaults are GIFGIF's.

    docs/decisions.md#gifgif-votes-and-trueskill-scores states them.

    Args:
        mu0: Prior mean of every rating.
        sigma0: Prior standard deviation of every rating.
        beta: Performance noise; ``None`` means ``sigma0 / 2``
            (``beta^2 = sigma0^2 / 4``).
        tau: Dynamics noise added before every match; ``None`` means
            ``sigma0 / 100`` (``tau^2 = sigma0^2 / 10000``).
        draw_probability: ``p_draw``. GIFGIF's draw margin is
            ``Phi^-1((p_draw + 1) / 2) * sqrt(2 beta^2 + 2 sigma0^2)``, a
            constant computed from ``sigma0``, not from the players' sigmas.
    """

    mu0: float = 25.0
    sigma0: float = 25.0 / 3.0
    beta: float | None = None
    tau: float | None = None
    draw_probability: float = 0.13

    def __post_init__(self) -> None:
        for name in ("sigma0", "beta"):
            value = getattr(self, name)
            if name == "beta" and value is None:
                value = self.sigma0 / 2.0
                object.__setattr__(self, "beta", value)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"TrueSkill `{name}` must be positive. Received: {name}={value!r}")
        if self.tau is None:
            object.__setattr__(self, "tau", self.sigma0 / 100.0)
        if not isinstance(self.tau, (int, float)) or not self.tau >= 0:
            raise ValueError(f"TrueSkill `tau` must be non-negative. Received: tau={self.tau!r}")
        if not isinstance(self.mu0, (int, float)) or not math.isfinite(self.mu0):
            raise ValueError(f"TrueSkill `mu0` must be a finite number. Received: mu0={self.mu0!r}")
        if not 0.0 <= self.draw_probability < 1.0:
            raise ValueError(
                "TrueSkill `draw_probability` must be in [0, 1). "
                f"Received: draw_probability={self.draw_probability!r}"
            )

    @property
    def beta2(self) -> float:
        """``beta^2``."""
        return float(typing.cast(float, self.beta)) ** 2

    @property
    def tau2(self) -> float:
        """``tau^2``."""
        return float(typing.cast(float, self.tau)) ** 2

    @property
    def draw_margin(self) -> float:
        """GIFGIF's draw margin ``Phi^-1((p + 1) / 2) * sqrt(2 beta^2 + 2 sigma0^2)``."""
        scale = math.sqrt(2.0 * self.beta2 + 2.0 * self.sigma0**2)
        return _norm_ppf((self.draw_probability + 1.0) / 2.0) * scale


# --- v and w (Herbrich et al. 2007), scalar -------------------------------------------


def vw_win(x: float) -> tuple[float, float]:
    """``v(x) = N(x) / Phi(x)`` and ``w(x) = v (v + x)`` for a win, ``x = t - e``."""
    cdf = _phi(x)
    if cdf < _TINY:
        return -x, 1.0
    v = math.exp(-0.5 * x * x) * _INV_SQRT_2PI / cdf
    return v, v * (v + x)


def vw_draw(t: float, e: float) -> tuple[float, float]:
    """``v`` and ``w`` for a draw at ``t = (mu_a - mu_b) / c``, ``e = margin / c``.

    ``v`` is odd and ``w`` even in ``t``; both are computed at ``|t|`` so that
    ``Phi(e - |t|) - Phi(-e - |t|)`` is a difference of small, accurate tails.
    """
    ta = abs(t)
    lo, hi = -e - ta, e - ta
    denom = _phi(hi) - _phi(lo)
    if denom < _TINY:
        v = hi  # -(|t| - e)
        w = 1.0
    else:
        n_lo = math.exp(-0.5 * lo * lo) * _INV_SQRT_2PI
        n_hi = math.exp(-0.5 * hi * hi) * _INV_SQRT_2PI
        v = (n_lo - n_hi) / denom
        w = v * v + (hi * n_hi - lo * n_lo) / denom
    return (v if t >= 0 else -v), w


def rate_1vs1(
    mu_a: float,
    sigma2_a: float,
    mu_b: float,
    sigma2_b: float,
    draw: bool,
    params: TrueSkillParams,
) -> tuple[float, float, float, float]:
    """One TrueSkill match between ratings ``a`` (the winner unless drawn) and ``b``.

    Args:
        mu_a: Mean of ``a``.
        sigma2_a: Variance of ``a``.
        mu_b: Mean of ``b``.
        sigma2_b: Variance of ``b``.
        draw: Whether the match was a draw.
        params: The constants.

    Returns:
        ``(mu_a, sigma2_a, mu_b, sigma2_b)`` after the match.
    """
    tau2 = params.tau2
    sa = sigma2_a + tau2
    sb = sigma2_b + tau2
    c2 = 2.0 * params.beta2 + sa + sb
    c = math.sqrt(c2)
    t = (mu_a - mu_b) / c
    e = params.draw_margin / c
    v, w = vw_draw(t, e) if draw else vw_win(t - e)
    return (
        mu_a + sa / c * v,
        sa * (1.0 - sa / c2 * w),
        mu_b - sb / c * v,
        sb * (1.0 - sb / c2 * w),
    )


def _scalar_loop(
    mu: list[float],
    s2: list[float],
    winner: Iterable[int],
    loser: Iterable[int],
    draw: Iterable[bool],
    params: TrueSkillParams,
) -> None:
    """:func:`rate_1vs1` inlined over many votes, updating ``mu`` and ``s2`` in place."""
    tau2 = params.tau2
    two_beta2 = 2.0 * params.beta2
    margin = params.draw_margin
    sqrt = math.sqrt
    for a, b, d in zip(winner, loser, draw, strict=True):
        sa = s2[a] + tau2
        sb = s2[b] + tau2
        c2 = two_beta2 + sa + sb
        c = sqrt(c2)
        t = (mu[a] - mu[b]) / c
        e = margin / c
        v, w = vw_draw(t, e) if d else vw_win(t - e)
        mu[a] += sa / c * v
        mu[b] -= sb / c * v
        s2[a] = sa * (1.0 - sa / c2 * w)
        s2[b] = sb * (1.0 - sb / c2 * w)


# --- v and w, vectorised --------------------------------------------------------------


def _vw_win_array(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # N(x) / Phi(x) through log_ndtr stays finite far into the lower tail.
    v = np.exp(-0.5 * x * x - 0.5 * math.log(2.0 * math.pi) - special.log_ndtr(x))
    return v, v * (v + x)


def _vw_draw_array(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ta = np.abs(t)
    lo, hi = -e - ta, e - ta
    denom = special.ndtr(hi) - special.ndtr(lo)
    n_lo = np.exp(-0.5 * lo * lo) * _INV_SQRT_2PI
    n_hi = np.exp(-0.5 * hi * hi) * _INV_SQRT_2PI
    ok = denom >= _TINY
    safe = np.where(ok, denom, 1.0)
    v = np.where(ok, (n_lo - n_hi) / safe, hi)
    w = np.where(ok, v * v + (hi * n_hi - lo * n_lo) / safe, 1.0)
    return np.where(t >= 0, v, -v), w


# --- Waves ----------------------------------------------------------------------------


def vote_waves(winner: np.ndarray, loser: np.ndarray, num_ratings: int) -> np.ndarray:
    """The wave of each vote: ``1 + max(`` last wave of its two ratings ``)``.

    Votes of one wave touch disjoint ratings, and a rating's votes fall in
    increasing waves in input order, so applying waves in order, each as one
    simultaneous update, equals applying the votes one by one.

    Args:
        winner: Rating index of the first player of each vote.
        loser: Rating index of the second player of each vote.
        num_ratings: Number of ratings (larger than every index).

    Returns:
        An int array of 0-based waves, one per vote.
    """
    last = [-1] * num_ratings
    waves = [0] * len(winner)
    for i, (a, b) in enumerate(zip(winner.tolist(), loser.tolist(), strict=True)):
        la, lb = last[a], last[b]
        k = (la if la > lb else lb) + 1
        last[a] = last[b] = k
        waves[i] = k
    return np.asarray(waves, dtype=np.int64)


class TrueSkillRatings:
    """A growable table of TrueSkill ratings updated by batches of votes.

    Ratings are addressed by integer index; new ones start at
    ``N(mu0, sigma0^2)``. Votes are applied in the order given, across calls.

    Args:
        num_ratings: Initial number of ratings.
        params: TrueSkill constants (GIFGIF's by default).
    """

    def __init__(self, num_ratings: int = 0, params: TrueSkillParams | None = None) -> None:
        if num_ratings < 0:
            raise ValueError(f"`num_ratings` must be >= 0. Received: num_ratings={num_ratings}")
        self.params = params if params is not None else TrueSkillParams()
        self._size = 0
        self._mu = np.empty(0, dtype=np.float64)
        self._sigma2 = np.empty(0, dtype=np.float64)
        self.num_waves = 0
        self.grow(num_ratings)

    def __len__(self) -> int:
        return self._size

    @property
    def mu(self) -> np.ndarray:
        """Means, ``[num_ratings]`` (a view; copy before keeping it)."""
        return self._mu[: self._size]

    @property
    def sigma2(self) -> np.ndarray:
        """Variances, ``[num_ratings]``."""
        return self._sigma2[: self._size]

    @property
    def sigma(self) -> np.ndarray:
        """Standard deviations, ``[num_ratings]``."""
        return np.sqrt(self.sigma2)

    def grow(self, num_ratings: int) -> None:
        """Makes room for at least ``num_ratings`` ratings (new ones at the prior)."""
        if num_ratings <= self._size:
            return
        if num_ratings > len(self._mu):
            capacity = max(num_ratings, 2 * len(self._mu), 1024)
            mu = np.full(capacity, self.params.mu0, dtype=np.float64)
            sigma2 = np.full(capacity, self.params.sigma0**2, dtype=np.float64)
            mu[: self._size] = self.mu
            sigma2[: self._size] = self.sigma2
            self._mu, self._sigma2 = mu, sigma2
        self._size = num_ratings

    def apply(
        self,
        winner: np.ndarray,
        loser: np.ndarray,
        draw: np.ndarray,
        method: str = "waves",
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """Applies votes in order.

        Args:
            winner: Int array, the winning rating of each vote (for a draw,
                either player).
            loser: Int array, the losing rating (the other player of a draw).
            draw: Bool array, whether each vote is a draw.
            method: ``"waves"`` (vectorised, same result) or ``"sequential"``
                (a plain loop, the reference).
            on_progress: Called with the number of votes just applied.

        Raises:
            ValueError: On arrays of different lengths, an index out of range,
                a vote of a rating against itself, or an unknown method.
        """
        winner = np.asarray(winner, dtype=np.int64)
        loser = np.asarray(loser, dtype=np.int64)
        draw = np.asarray(draw, dtype=bool)
        if not winner.shape == loser.shape == draw.shape or winner.ndim != 1:
            raise ValueError(
                "`winner`, `loser` and `draw` must be 1-D arrays of one length. Received "
                f"shapes {winner.shape}, {loser.shape}, {draw.shape}"
            )
        if method not in ("waves", "sequential"):
            raise ValueError(f"`method` must be 'waves' or 'sequential'. Received: {method!r}")
        if not len(winner):
            return
        low = min(winner.min(), loser.min())
        high = max(winner.max(), loser.max())
        if low < 0 or high >= self._size:
            raise ValueError(
                f"Rating index out of range [0, {self._size}): found {low} .. {high}. "
                "Call `grow` first."
            )
        if np.any(winner == loser):
            first = int(np.flatnonzero(winner == loser)[0])
            raise ValueError(f"Vote {first} pits rating {int(winner[first])} against itself")
        if method == "sequential":
            self._apply_scalar(winner, loser, draw)
            if on_progress is not None:
                on_progress(len(winner))
        else:
            self._apply_waves(winner, loser, draw, on_progress)

    def _apply_scalar(self, winner: np.ndarray, loser: np.ndarray, draw: np.ndarray) -> None:
        # Python floats in lists: far faster per element than numpy scalars.
        mu = self._mu[: self._size].tolist()
        s2 = self._sigma2[: self._size].tolist()
        _scalar_loop(mu, s2, winner.tolist(), loser.tolist(), draw.tolist(), self.params)
        self._mu[: self._size] = mu
        self._sigma2[: self._size] = s2

    def _apply_small_wave(self, a: np.ndarray, b: np.ndarray, draw: np.ndarray) -> None:
        # Ratings of one wave are disjoint: gather them, loop, scatter back.
        n = len(a)
        both = np.concatenate([a, b])
        mu = self._mu[both].tolist()
        s2 = self._sigma2[both].tolist()
        _scalar_loop(mu, s2, range(n), range(n, 2 * n), draw.tolist(), self.params)
        self._mu[both] = mu
        self._sigma2[both] = s2

    def _apply_waves(
        self,
        winner: np.ndarray,
        loser: np.ndarray,
        draw: np.ndarray,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        waves = vote_waves(winner, loser, self._size)
        order = np.argsort(waves, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(waves))])
        self.num_waves += len(bounds) - 1
        logger.debug("%d votes in %d waves", len(winner), len(bounds) - 1)
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            idx = order[start:stop]
            if stop - start < _SMALL_WAVE:
                self._apply_small_wave(winner[idx], loser[idx], draw[idx])
            else:
                self._apply_wave(winner[idx], loser[idx], draw[idx])
            if on_progress is not None:
                on_progress(stop - start)

    def _apply_wave(self, a: np.ndarray, b: np.ndarray, draw: np.ndarray) -> None:
        p = self.params
        mu, s2 = self._mu, self._sigma2
        sa = s2[a] + p.tau2
        sb = s2[b] + p.tau2
        c2 = 2.0 * p.beta2 + sa + sb
        c = np.sqrt(c2)
        t = (mu[a] - mu[b]) / c
        e = p.draw_margin / c
        v, w = _vw_win_array(t - e)
        if draw.any():
            v_d, w_d = _vw_draw_array(t[draw], e[draw])
            v[draw] = v_d
            w[draw] = w_d
        mu[a] += sa / c * v
        mu[b] -= sb / c * v
        s2[a] = sa * (1.0 - sa / c2 * w)
        s2[b] = sb * (1.0 - sb / c2 * w)
