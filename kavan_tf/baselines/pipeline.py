"""Feature extraction, fitting and evaluation of the Table 2 baselines (docs/baselines.md).

A baseline is a :class:`~kavan_tf.baselines.base.FeatureExtractor` (one vector
per GIF) followed by :class:`~kavan_tf.baselines.ols.OrdinaryLeastSquares` to
the targets ``y = clip(score / 25 - 1, -1, 1)``. Features depend only on the
GIF, so a :class:`FeatureCache` keeps them per path and the five random splits
of the protocol (paper 4.1) extract every GIF once.

GIFs that cannot be decoded are skipped, never fatal: a warning names each one
and its cause, its feature row is ``NaN`` (invalid), it is left out of the fit,
its prediction is ``NaN`` and it is left out of the metrics (the counts and
paths are reported).

Example:

```python
from kavan_tf.baselines import FeatureCache, evaluate_baseline, extract_features
from kavan_tf.data.manifest import read_manifest

rows = read_manifest("data/manifest.csv")
cache = FeatureCache("color_histogram")
extract_features(cache, rows["path"])              # every GIF once, with a progress bar
for train, test in splits:                         # five seeded 80/20 splits
    scores = evaluate_baseline(cache, rows.iloc[train], rows.iloc[test])
    scores["nmse"], scores["accuracy"]
```
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from kavan_tf.baselines.base import FeatureExtractor
from kavan_tf.baselines.color_histogram import ColorHistogram
from kavan_tf.baselines.face_expression import FaceExpression
from kavan_tf.baselines.ols import OrdinaryLeastSquares
from kavan_tf.config import DataConfig, LabelConfig, LossConfig
from kavan_tf.data.manifest import scores_to_targets, targets_category
from kavan_tf.data.media import decode_media
from kavan_tf.errors import MediaDecodeError
from kavan_tf.losses import gif_nmse, rank_error_count
from kavan_tf.metrics import EmotionNMSE, spearman_per_gif

logger = logging.getLogger(__name__)

BASELINES: dict[str, type[FeatureExtractor]] = {
    ColorHistogram.kind: ColorHistogram,
    FaceExpression.kind: FaceExpression,
}
"""The baselines by name: ``"color_histogram"`` and ``"face_expression"``."""

_MAX_LISTED = 10


def make_extractor(kind: str | FeatureExtractor, **options: Any) -> FeatureExtractor:
    """The feature extractor of a baseline.

    Args:
        kind: A name in :data:`BASELINES`, or an extractor (returned as is).
        **options: Settings of the extractor (e.g. ``bins=4`` for
            ``"color_histogram"``, ``features="penultimate"`` for
            ``"face_expression"``); not allowed with an extractor instance.

    Returns:
        The extractor.
    """
    if isinstance(kind, FeatureExtractor):
        if options:
            raise ValueError(
                "Options cannot be combined with an extractor instance. "
                f"Received: {sorted(options)}"
            )
        return kind
    if kind not in BASELINES:
        raise ValueError(
            f"Unknown baseline; expected one of {sorted(BASELINES)}. Received: kind={kind!r}"
        )
    return BASELINES[kind](**options)


class FeatureCache:
    """Feature vectors per GIF path for one extractor configuration.

    Args:
        kind: A baseline name or an extractor (see :func:`make_extractor`).
        data_config: GIF decoding settings (background colour, size limits);
            defaults to :class:`~kavan_tf.config.DataConfig`'s.
        **options: Extractor settings, with a baseline name.

    Attributes:
        extractor: The extractor whose features are kept.
        features: ``{absolute path: float32 [feature_dim]}``.
        failures: ``{absolute path: why it could not be read}``.
    """

    def __init__(
        self,
        kind: str | FeatureExtractor,
        data_config: DataConfig | None = None,
        **options: Any,
    ) -> None:
        self.extractor = make_extractor(kind, **options)
        self.data_config = data_config if data_config is not None else DataConfig()
        self.features: dict[str, np.ndarray] = {}
        self.failures: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.features) + len(self.failures)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        key = _key(path)
        return key in self.features or key in self.failures

    def get(self, paths: Iterable[str | os.PathLike[str]], progress: bool = True) -> np.ndarray:
        """Features of ``paths``, extracting those not cached yet.

        Args:
            paths: GIF files; repeated paths are extracted once.
            progress: Show a tqdm progress bar over the GIFs to extract.

        Returns:
            ``float32 [len(paths), feature_dim]``; the rows of GIFs that could
            not be read are ``NaN``.
        """
        keys = [_key(p) for p in paths]
        todo = list(dict.fromkeys(k for k in keys if k not in self))
        desc = f"{self.extractor.kind} features"
        for key in tqdm(todo, desc=desc, unit="gif", disable=not progress or not todo):
            self._extract(key)
        out = np.full((len(keys), self.extractor.feature_dim), np.nan, dtype=np.float32)
        failed = []
        for row, key in enumerate(keys):
            if key in self.features:
                out[row] = self.features[key]
            else:
                failed.append(key)
        if failed:
            logger.warning(
                "%d of %d GIFs could not be read; their feature rows are invalid (NaN): %s",
                len(failed),
                len(keys),
                _listing([f"{k} ({self.failures[k]})" for k in failed]),
            )
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the cached features to an ``.npz`` file (see :meth:`load`).

        Feature extraction of a full dataset can take an hour (the face
        baseline); saving lets later runs skip it.
        """
        keys = sorted(self.features)
        features = (
            np.stack([self.features[k] for k in keys])
            if keys
            else np.zeros((0, self.extractor.feature_dim), np.float32)
        )
        np.savez_compressed(
            path,
            kind=self.extractor.kind,
            config=json.dumps(self.extractor.get_config()),
            paths=np.array(keys, dtype=str),
            features=features,
            failures=json.dumps(self.failures),
        )

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], data_config: DataConfig | None = None
    ) -> FeatureCache:
        """Reads a cache written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as stored:
            cache = cls(str(stored["kind"]), data_config, **json.loads(str(stored["config"])))
            for key, row in zip(stored["paths"].tolist(), stored["features"], strict=True):
                cache.features[key] = row.astype(np.float32)
            cache.failures.update(json.loads(str(stored["failures"])))
        return cache

    def _extract(self, key: str) -> None:
        try:
            gif = decode_media(key, self.data_config)
        except MediaDecodeError as e:
            self._fail(key, e.cause)
            return
        except Exception as e:  # One odd file must not end a run over thousands; it is reported.
            self._fail(key, f"unexpected decoder error {type(e).__name__}: {e}")
            return
        self.features[key] = self.extractor.extract(gif.frames)

    def _fail(self, key: str, cause: str) -> None:
        self.failures[key] = cause
        logger.warning("%s: skipped, cannot decode GIF: %s", key, cause)


def extract_features(
    kind: str | FeatureExtractor | FeatureCache,
    paths: Iterable[str | os.PathLike[str]],
    progress: bool = True,
    **options: Any,
) -> np.ndarray:
    """Features of GIF files, each GIF decoded and described once.

    Args:
        kind: A baseline name, an extractor, or a :class:`FeatureCache` (which
            keeps the features for later calls, e.g. the five splits).
        paths: GIF files (e.g. a manifest's ``path`` column).
        progress: Show a tqdm progress bar.
        **options: Extractor settings (with a baseline name only) and
            ``data_config``.

    Returns:
        ``float32 [len(paths), feature_dim]``; the rows of GIFs that could not
        be read are ``NaN`` (a warning names them).
    """
    return _cache(kind, options).get(paths, progress=progress)


@dataclass
class BaselineModel:
    """A fitted baseline: feature extractor plus OLS.

    Attributes:
        cache: The features (and extractor) it was fitted with; reused by
            :meth:`predict`.
        regression: The fitted least-squares map.
        labels: Emotions of the targets, in output order.
        num_train: GIFs fitted on.
        train_failures: ``{path: cause}`` of training GIFs that were skipped.
    """

    cache: FeatureCache
    regression: OrdinaryLeastSquares
    labels: LabelConfig = field(default_factory=LabelConfig)
    num_train: int = 0
    train_failures: dict[str, str] = field(default_factory=dict)

    @property
    def extractor(self) -> FeatureExtractor:
        return self.cache.extractor

    def predict(self, rows: pd.DataFrame | Iterable[str], progress: bool = True) -> np.ndarray:
        """Predicted targets ``float64 [N, num_emotions]`` (unclipped OLS outputs).

        Args:
            rows: A manifest table (its ``path`` column is used) or paths.
            progress: Show a progress bar while extracting new GIFs.

        Returns:
            The predictions; rows of GIFs that could not be read are ``NaN``.
        """
        return self.regression.predict(self.cache.get(_paths(rows), progress=progress))

    def predict_categories(
        self, rows: pd.DataFrame | Iterable[str], progress: bool = True
    ) -> np.ndarray:
        """Category of the highest predicted intensity per GIF (``-1`` when unreadable)."""
        predictions = self.predict(rows, progress=progress)
        valid = np.isfinite(predictions).all(axis=1)
        categories = np.full(len(predictions), -1, dtype=np.int32)
        categories[valid] = self.labels.category_of(predictions[valid])
        return categories


def fit_baseline(
    kind: str | FeatureExtractor | FeatureCache,
    rows: pd.DataFrame,
    labels: LabelConfig | None = None,
    ridge: float = 0.0,
    progress: bool = True,
    **options: Any,
) -> BaselineModel:
    """Fits a baseline on the GIFs of a manifest table.

    Args:
        kind: A baseline name (:data:`BASELINES`), an extractor, or a
            :class:`FeatureCache` holding features already extracted.
        rows: Training rows: ``path`` and one score column per emotion.
        labels: Emotions (score columns) and categories.
        ridge: L2 penalty of the regression; 0 is ordinary least squares.
        progress: Show a progress bar while extracting features.
        **options: Extractor settings (with a baseline name only) and
            ``data_config``.

    Returns:
        The fitted model.

    Raises:
        ValueError: If no training GIF could be read.
    """
    labels = labels if labels is not None else LabelConfig()
    cache = _cache(kind, options)
    targets = scores_to_targets(rows[list(labels.emotions)])
    paths = _paths(rows)
    features = cache.get(paths, progress=progress)
    valid = np.isfinite(features).all(axis=1)
    if not valid.any():
        raise ValueError(f"None of the {len(paths)} training GIFs could be read")
    regression = OrdinaryLeastSquares(ridge=ridge).fit(features[valid], targets[valid])
    failures = _failures(cache, paths, valid)
    logger.info(
        "Fitted %s baseline on %d GIFs (%d features, %d skipped)",
        cache.extractor.kind,
        int(valid.sum()),
        features.shape[1],
        len(failures),
    )
    return BaselineModel(cache, regression, labels, int(valid.sum()), failures)


def evaluate_baseline(
    kind: str | FeatureExtractor | FeatureCache,
    train_rows: pd.DataFrame,
    test_rows: pd.DataFrame,
    labels: LabelConfig | None = None,
    ridge: float = 0.0,
    progress: bool = True,
    nmse_epsilon: float | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fits a baseline on ``train_rows`` and scores it on ``test_rows``.

    The protocol and the metrics: docs/decisions.md#protocol.

    Args:
        kind: A baseline name, an extractor, or a :class:`FeatureCache`.
        train_rows: Training rows of a manifest.
        test_rows: Evaluation rows of a manifest.
        labels: Emotions (score columns) and categories.
        ridge: L2 penalty of the regression; 0 is ordinary least squares.
        progress: Show progress bars while extracting features.
        nmse_epsilon: Added to each GIF's target variance in the per-GIF
            nMSE; defaults to :class:`~kavan_tf.config.LossConfig`'s.
        **options: Extractor settings (with a baseline name only) and
            ``data_config``.

    Returns:
        ``accuracy`` (4-class, category of the highest predicted
        intensity), ``nmse`` (per-GIF nMSE, as the loss ``L_RG``, averaged),
        ``emotion_nmse`` (per-emotion nMSE of Jou et al., averaged) and
        ``emotion_nmse_per_emotion`` (``{emotion: value}``), ``rank_error``
        (Eq. 11, mean per GIF), ``spearman`` (mean per GIF), the counts
        ``num_train``, ``num_test``, ``num_train_invalid``,
        ``num_test_invalid``, and ``invalid_paths`` (``{path: cause}``). The
        metrics cover the readable test GIFs.

    Raises:
        ValueError: If no training or no test GIF could be read.
    """
    labels = labels if labels is not None else LabelConfig()
    cache = _cache(kind, options)
    model = fit_baseline(cache, train_rows, labels=labels, ridge=ridge, progress=progress)
    predictions = model.predict(test_rows, progress=progress)
    targets = scores_to_targets(test_rows[list(labels.emotions)])
    valid = np.isfinite(predictions).all(axis=1)
    if not valid.any():
        raise ValueError(f"None of the {len(test_rows)} test GIFs could be read")
    test_failures = _failures(cache, _paths(test_rows), valid)
    result = intensity_metrics(targets[valid], predictions[valid], labels, nmse_epsilon)
    result.update(
        num_train=model.num_train,
        num_test=int(valid.sum()),
        num_train_invalid=len(model.train_failures),
        num_test_invalid=len(test_failures),
        invalid_paths={**model.train_failures, **test_failures},
    )
    return result


def intensity_metrics(
    targets: np.ndarray,
    predictions: np.ndarray,
    labels: LabelConfig | None = None,
    nmse_epsilon: float | None = None,
) -> dict[str, Any]:
    """The model's evaluation metrics on any predicted intensities.

    The metrics: docs/decisions.md#losses-and-metrics.

    Uses the same functions as the KAVAN model's metrics
    (:func:`kavan_tf.losses.gif_nmse`, :class:`kavan_tf.metrics.EmotionNMSE`,
    :func:`kavan_tf.losses.rank_error_count`,
    :func:`kavan_tf.metrics.spearman_per_gif`), so the numbers are comparable.

    Args:
        targets: ``[N, E]`` targets in ``[-1, 1]``.
        predictions: ``[N, E]`` finite predictions.
        labels: Emotions and categories.
        nmse_epsilon: See :func:`evaluate_baseline`.

    Returns:
        ``accuracy``, ``nmse``, ``emotion_nmse``, ``emotion_nmse_per_emotion``,
        ``rank_error`` and ``spearman`` as Python floats (and a dict).
    """
    labels = labels if labels is not None else LabelConfig()
    epsilon = nmse_epsilon if nmse_epsilon is not None else LossConfig().nmse_epsilon
    y_true = np.asarray(targets, dtype=np.float32)
    y_pred = np.asarray(predictions, dtype=np.float32)
    if y_true.shape != y_pred.shape or y_true.ndim != 2 or y_true.shape[1] != labels.num_emotions:
        raise ValueError(
            f"`targets` and `predictions` must both be [N, {labels.num_emotions}]. "
            f"Received: shapes {y_true.shape} and {y_pred.shape}"
        )
    emotion_nmse = EmotionNMSE(num_emotions=labels.num_emotions)
    emotion_nmse.update_state(y_true, y_pred)
    per_emotion = keras.ops.convert_to_numpy(emotion_nmse.per_emotion())
    accuracy = np.mean(labels.category_of(y_pred) == targets_category(y_true, labels))
    return {
        "accuracy": float(accuracy),
        "nmse": _mean(gif_nmse(y_true, y_pred, epsilon)),
        "emotion_nmse": float(np.mean(per_emotion)),
        "emotion_nmse_per_emotion": {
            name: float(value) for name, value in zip(labels.emotions, per_emotion, strict=True)
        },
        "rank_error": _mean(rank_error_count(y_true, y_pred)),
        "spearman": _mean(spearman_per_gif(y_true, y_pred)),
    }


def _cache(kind: str | FeatureExtractor | FeatureCache, options: dict[str, Any]) -> FeatureCache:
    if isinstance(kind, FeatureCache):
        if options:
            raise ValueError(
                "Extractor options cannot be combined with a FeatureCache (it fixes them). "
                f"Received: {sorted(options)}"
            )
        return kind
    return FeatureCache(kind, **options)


def _paths(rows: pd.DataFrame | Iterable[str | os.PathLike[str]]) -> list[str]:
    if isinstance(rows, pd.DataFrame):
        if "path" not in rows:
            raise ValueError(
                f"`rows` needs a `path` column. Received: columns={list(rows.columns)}"
            )
        rows = rows["path"]
    return [os.fspath(p) for p in rows]


def _failures(cache: FeatureCache, paths: list[str], valid: np.ndarray) -> dict[str, str]:
    """``{path: cause}`` of the rows that are not valid."""
    keys = [_key(p) for p, ok in zip(paths, valid, strict=True) if not ok]
    return {k: cache.failures.get(k, "invalid features") for k in keys}


def _key(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


def _mean(values: Any) -> float:
    return float(np.mean(keras.ops.convert_to_numpy(values)))


def _listing(items: list[str]) -> str:
    shown = "; ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f"; ... ({len(items) - _MAX_LISTED} more)"
    return shown
