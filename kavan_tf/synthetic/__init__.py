"""Seeded synthetic animated-GIF emotion dataset (the demo's and the tests' data).

The generator writes real files in exactly the formats the real pipeline
reads, so a demo on synthetic data goes through the real loaders:

- ``gifs/<gif_id>.gif``: animated GIFs written by Pillow, one adaptive palette
  per frame (local colour tables), per-frame delays, and three encodings
  (delta frames with a transparent "unchanged" colour, full frames with
  disposal 2, partial frames with disposal 1);
- ``keypoints/<gif_id>.json``: ``kavan-keypoints-v1`` files, one 70-point
  face (OpenPose order) per frame, or no person where the simulated estimator
  missed the face;
- ``manifest.csv``: ``gif_id, path, <17 scores>, keypoints, split``, scores
  ``25 * (1 + y)`` for true intensities ``y`` in ``[-1, 1]``
  (docs/decisions.md#labels-and-categories);
- ``votes.csv.gz`` (optional): simulated GIFGIF pairwise votes
  (``metric,left,right,choice``) from a noisy Thurstone judge, for the
  TrueSkill path (docs/decisions.md#gifgif-votes-and-trueskill-scores);
- ``synthetic.json``: the :class:`SyntheticConfig` used, so any example can be
  regenerated in memory with :func:`generate_example`.

The generative model (see ``docs/synthetic.md``) draws a cartoon face whose
expression follows a path through Russell's circumplex (valence, arousal)
over the frames; the 17 intensities are a function of the *direction* of that
path (``label_mode="change"``), so one frame is ambiguous and both the face
and several frames are needed. Cluttered, moving backgrounds make the
whole-frame average a weak cue.

Every example is drawn from its own random stream, seeded by
``(seed, index)``: the same config gives byte-identical files, and example
``i`` does not depend on ``num_gifs``.

Example:

```python
from kavan_tf.synthetic import SyntheticConfig, generate_dataset, generate_example

manifest = generate_dataset("data/synthetic", SyntheticConfig(num_gifs=300, seed=0))
example = generate_example(SyntheticConfig(seed=0), index=3)
example.frames.shape        # (F, 96, 96, 3), as the GIF decodes
example.face_boxes[0]       # (x0, y0, x1, y1) of the head in frame 0
```

| module | what |
|---|---|
| `config.py` | `SyntheticConfig` (its own validation), `SyntheticExample`, the circumplex angles |
| `faces.py` | face geometry |
| `labels.py` | the ground truth: labels, label modes, the expression's path |
| `render.py` | backgrounds, faces, motion, GIF encoding, keypoint documents |
| `votes.py` | simulated GIFGIF votes |
| `dataset.py` | the dataset writer, its config sidecar, `data_origin` |
"""

from kavan_tf.synthetic.config import (
    CONFIG_FILE,
    ENCODINGS,
    LABEL_MODES,
    SEGMENT_POSITIONS,
    SyntheticConfig,
    SyntheticExample,
    default_emotion_angles,
    intensity_profile,
)
from kavan_tf.synthetic.dataset import data_origin, generate_dataset, read_config
from kavan_tf.synthetic.labels import segment_window
from kavan_tf.synthetic.render import encode_gif, generate_example, gif_id, keypoint_document
from kavan_tf.synthetic.votes import simulate_votes, write_votes

__all__ = [
    "CONFIG_FILE",
    "ENCODINGS",
    "LABEL_MODES",
    "SEGMENT_POSITIONS",
    "SyntheticConfig",
    "SyntheticExample",
    "data_origin",
    "default_emotion_angles",
    "encode_gif",
    "generate_dataset",
    "generate_example",
    "gif_id",
    "intensity_profile",
    "keypoint_document",
    "read_config",
    "segment_window",
    "simulate_votes",
    "write_votes",
]
