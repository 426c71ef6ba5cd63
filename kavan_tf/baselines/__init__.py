"""The re-implemented baselines of the paper's Table 2 (paper 4.3; docs/baselines.md).

- ``"color_histogram"``: joint RGB histogram averaged over frames + OLS
  (:class:`ColorHistogram`);
- ``"face_expression"``: expression-CNN features of the largest Haar-cascade
  face, averaged over frames + OLS (:class:`FaceExpression`; needs
  ``pip install 'kavan_tf[baselines]'``).

See ``docs/baselines.md`` and :mod:`kavan_tf.baselines.pipeline`.
"""

from kavan_tf.baselines.base import FeatureExtractor, sample_frame_indices
from kavan_tf.baselines.color_histogram import ColorHistogram
from kavan_tf.baselines.face_expression import EXPRESSIONS, FaceExpression
from kavan_tf.baselines.ols import OrdinaryLeastSquares
from kavan_tf.baselines.pipeline import (
    BASELINES,
    BaselineModel,
    FeatureCache,
    evaluate_baseline,
    extract_features,
    fit_baseline,
    intensity_metrics,
    make_extractor,
)

__all__ = [
    "BASELINES",
    "EXPRESSIONS",
    "BaselineModel",
    "ColorHistogram",
    "FaceExpression",
    "FeatureCache",
    "FeatureExtractor",
    "OrdinaryLeastSquares",
    "evaluate_baseline",
    "extract_features",
    "fit_baseline",
    "intensity_metrics",
    "make_extractor",
    "sample_frame_indices",
]
