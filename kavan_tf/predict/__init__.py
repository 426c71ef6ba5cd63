"""Prediction on GIF (and WebP, APNG, MP4, WebM) files (docs/serving.md).

- :mod:`~kavan_tf.predict.predictor`: SavedModel and ``.keras`` predictors,
  :class:`GifResult`, :func:`predict_paths`.
- :mod:`~kavan_tf.predict.formats`: the text table, JSON lines and CSV.
- :mod:`~kavan_tf.predict.overlays`: attention overlays at the file's own
  resolution, with the top emotions and, from keypoints, the supervision
  heatmaps.
- :mod:`~kavan_tf.predict.report`: the self-contained HTML report.
- :mod:`~kavan_tf.predict.drawing`: overlays and the report of ``kavan predict``.

Example:

```python
from kavan_tf.predict import (format_table, load_predictor, predict_paths, write_overlays,
                              write_report)

predictor = load_predictor("savedmodels/kavan")          # highest version
results = predict_paths(predictor, ["cat.gif", "gifs/"], keep_frames=True)
print(format_table(results))
write_overlays(results, "overlays/")                      # attention over the frames
write_report(results, "report.html")                      # one page, no server needed
```
"""

from kavan_tf.predict.drawing import DrawnFiles, draw_results
from kavan_tf.predict.formats import (
    OUTPUT_FORMATS,
    format_table,
    write_csv,
    write_jsonl,
    write_results,
)
from kavan_tf.predict.overlays import (
    find_keypoint_files,
    overlay_frames,
    render_overlay,
    supervision_heatmaps,
    write_overlays,
)
from kavan_tf.predict.predictor import (
    DECODERS,
    DISPLAY_MAX,
    GifResult,
    KerasPredictor,
    Predictor,
    SampledInput,
    SavedModelPredictor,
    decode_for_model,
    display_frames,
    expand_paths,
    load_predictor,
    predict_paths,
    sample_for_model,
)
from kavan_tf.predict.report import render_report, write_report

__all__ = [
    "DECODERS",
    "DISPLAY_MAX",
    "DrawnFiles",
    "OUTPUT_FORMATS",
    "GifResult",
    "KerasPredictor",
    "Predictor",
    "SampledInput",
    "SavedModelPredictor",
    "decode_for_model",
    "display_frames",
    "draw_results",
    "expand_paths",
    "find_keypoint_files",
    "format_table",
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
