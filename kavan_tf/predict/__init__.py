"""Prediction on GIF (and WebP, APNG, MP4, WebM) files (docs/serving.md).

- :mod:`~kavan_tf.predict.inputs`: the reference input pipeline
  (:func:`sample_for_model`).
- :mod:`~kavan_tf.predict.predictor`: SavedModel and ``.keras`` predictors,
  :func:`iter_predictions` and :func:`predict_paths`.
- :mod:`~kavan_tf.predict.results`: :class:`GifResult`, built once.
- :mod:`~kavan_tf.predict.formats`: the text table, JSON lines and CSV.
- :mod:`~kavan_tf.predict.overlays`: attention overlays at the file's own
  resolution, with the top emotions and, from keypoints, the supervision
  heatmaps.
- :mod:`~kavan_tf.predict.report`: the self-contained HTML report.
- :mod:`~kavan_tf.predict.drawing`: overlays and the report of ``kavan
  predict``, drawn as the results come.

Example:

```python
from kavan_tf.predict import Drawing, format_table, iter_predictions, load_predictor

predictor = load_predictor("savedmodels/kavan")          # highest version
with Drawing("overlays/", "report.html") as drawing:     # attention, and one page
    results = [drawing.add(r)                            # frames dropped once drawn
               for r in iter_predictions(predictor, ["cat.gif", "gifs/"], keep_frames=True)]
    drawing.close()
print(format_table(results))
```
"""

from kavan_tf.predict.drawing import Drawing, DrawnFiles, draw_results
from kavan_tf.predict.formats import (
    OUTPUT_FORMATS,
    format_table,
    write_csv,
    write_jsonl,
    write_results,
)
from kavan_tf.predict.inputs import (
    DISPLAY_MAX,
    SampledInput,
    decode_for_model,
    display_frames,
    sample_for_model,
)
from kavan_tf.predict.overlays import (
    KeypointFiles,
    overlay_frames,
    render_overlay,
    supervision_heatmaps,
    write_overlays,
)
from kavan_tf.predict.predictor import (
    DECODERS,
    KerasPredictor,
    Predictor,
    SavedModelPredictor,
    expand_paths,
    iter_predictions,
    load_predictor,
    predict_paths,
)
from kavan_tf.predict.report import ReportWriter, render_report, write_report
from kavan_tf.predict.results import GifResult, Labels

__all__ = [
    "DECODERS",
    "DISPLAY_MAX",
    "OUTPUT_FORMATS",
    "Drawing",
    "DrawnFiles",
    "GifResult",
    "KerasPredictor",
    "KeypointFiles",
    "Labels",
    "Predictor",
    "ReportWriter",
    "SampledInput",
    "SavedModelPredictor",
    "decode_for_model",
    "display_frames",
    "draw_results",
    "expand_paths",
    "format_table",
    "iter_predictions",
    "load_predictor",
    "overlay_frames",
    "predict_paths",
    "render_overlay",
    "render_report",
    "sample_for_model",
    "supervision_heatmaps",
    "write_csv",
    "write_jsonl",
    "write_overlays",
    "write_report",
    "write_results",
]
