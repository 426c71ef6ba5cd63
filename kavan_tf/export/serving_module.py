"""The serving endpoints of an exported model: :class:`KavanServingModule`.

:func:`kavan_tf.export.saved_model.export_saved_model` saves one; the
signatures and functions it holds are described in docs/serving.md,
"Signatures".
"""

from __future__ import annotations

import logging
from typing import Any

import tensorflow as tf

from kavan_tf.config import DataConfig
from kavan_tf.export import serving_graph
from kavan_tf.export.gif_graph import sampled_frames
from kavan_tf.models.kavan import KavanModel

logger = logging.getLogger(__name__)

GIFS_SIGNATURE = "serving_default"
FRAMES_SIGNATURE = "serving_frames"
#: Longest side of the frames ``predict_with_frames`` returns for display.
DISPLAY_MAX = 480


class KavanServingModule(tf.Module):
    """The serving endpoints around a :class:`KavanModel` (tracked as ``model``).

    Built like ``official/vision/serving``'s export modules: ``tf.function``s
    with named ``tf.TensorSpec`` inputs. The functions are also attributes of
    the object ``tf.saved_model.load`` returns:

    - ``serve_gifs`` (the ``serving_default`` signature) and ``serve_frames``
      (``serving_frames``);
    - ``predict_with_frames``: ``serve_gifs``'s outputs and, from the same
      decoding, the sampled frames at display size, for overlays
      (:meth:`_predict_with_frames`);
    - ``decode_gif``: the decoder, one GIF's sampled frames at its own size.

    Every endpoint that takes GIFs calls one decoder function (its distinct
    sampled frames, each once; ``decode_gif`` repeats them where samples
    share a frame), so the decoder is traced once, and it runs on the CPU.

    The labels are variables of the module (``emotion_names``,
    ``category_names``, ``emotion_categories``: each emotion's category id),
    read by the graph for its name outputs and by clients that load the
    SavedModel.

    Args:
        model: A frames-input KavanModel.
        data_config: Supplies the background colour and the decompression-bomb
            limits of the in-graph decoder (``max_frame_pixels``,
            ``max_total_pixels``, ``max_frames``).
    """

    def __init__(self, model: KavanModel, data_config: DataConfig | None = None) -> None:
        super().__init__(name="kavan_serving")
        config = model.model_config
        if config.input_mode != "frames":
            raise ValueError(
                "Only frames-input models can be exported for serving (the "
                "signatures take GIF bytes or frames). Received: a model with "
                f"input_mode={config.input_mode!r}"
            )
        data_config = data_config if data_config is not None else DataConfig()
        if data_config.sampling != "index":
            logger.warning(
                "The in-graph decoder has no frame delays; serving_default samples by frame "
                "index although data.sampling=%r.", data_config.sampling
            )
        if data_config.resize != "stretch":
            logger.warning(
                "serving_default stretches frames to the model's size although data.resize=%r; "
                "send letterboxed frames to serving_frames instead.", data_config.resize
            )
        # The Keras object itself is not saved (it would add traces of its own).
        self.model = self._no_dependency(model)
        self._num_frames = config.num_frames
        height, width = config.image_size
        self._image_size = (height, width)
        self._data_config = data_config
        labels = model.label_config
        self.emotion_names = tf.Variable(list(labels.emotions), trainable=False,
                                         name="emotion_names")
        self.category_names = tf.Variable(list(labels.category_names), trainable=False,
                                          name="category_names")
        self.emotion_categories = tf.Variable(
            [int(c) for c in labels.emotion_to_category()], dtype=tf.int32, trainable=False,
            name="emotion_categories")
        gifs_spec = tf.TensorSpec([None], tf.string, name="gifs")
        frames_spec = tf.TensorSpec(
            [None, self._num_frames, height, width, 3], tf.float32, name="frames"
        )
        # The model, traced once for the endpoints, which all take any batch.
        self._run_model = self._no_dependency(tf.function(
            lambda frames: model(frames, training=False), input_signature=[frames_spec]))
        # What the SavedModel keeps of the model: the TensorFlow variables its
        # trace reads. Keras variables would be saved as copies, which loaders
        # that restore the graph by name (TF Serving, `saved_model_cli run`)
        # never connect to the functions: they would serve uninitialised weights.
        self.model_variables = list(self._run_model.get_concrete_function().variables)
        gif_spec = tf.TensorSpec([], tf.string, name="gif")
        self._decoder = self._no_dependency(
            tf.function(self._decode_distinct, input_signature=[gif_spec]))
        self.decode_gif = tf.function(self._decode_gif, input_signature=[gif_spec])
        self.serve_gifs = tf.function(self._serve_gifs, input_signature=[gifs_spec])
        self.serve_frames = tf.function(self._serve_frames, input_signature=[frames_spec])
        self.predict_with_frames = tf.function(self._predict_with_frames,
                                               input_signature=[gifs_spec])

    def signatures(self) -> dict[str, Any]:
        """The functions to save as signatures, by signature name (traced by
        ``tf.saved_model.save`` itself, so each is traced once)."""
        return {GIFS_SIGNATURE: self.serve_gifs, FRAMES_SIGNATURE: self.serve_frames}

    def _decode_distinct(self, gif: tf.Tensor) -> dict[str, tf.Tensor]:
        # Gathers, loops and string ops: the CPU's work even on a GPU host,
        # where they would otherwise bounce between devices.
        with tf.device("/device:CPU:0"):
            return serving_graph.decode_gif(gif, self._num_frames, self._data_config)

    def _decode_gif(self, gif: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.device("/device:CPU:0"):
            decoded = self._decoder(gif)
            return {"frames": sampled_frames(decoded), "indices": decoded["indices"],
                    "error": decoded["error"]}

    def _model_inputs(self, gifs: tf.Tensor, display: bool) -> dict[str, tf.Tensor]:
        """Each GIF decoded once: the model's frames and the error, and with
        ``display`` the sampled frames at display size (zero-padded to
        ``DISPLAY_MAX``), their size, indices and the GIF's logical screen."""
        height, width = self._image_size
        steps = self._num_frames

        def one(gif: tf.Tensor) -> dict[str, tf.Tensor]:
            decoded = self._decoder(gif)
            sampled, slots, indices = decoded["frames"], decoded["slots"], decoded["indices"]
            out = {"frames": serving_graph.resize_sampled(sampled, slots, self._image_size),
                   "error": decoded["error"]}
            if display:
                ok = tf.equal(decoded["error"], "")
                source = tf.shape(sampled)[1:3]
                size = serving_graph.display_size(source, DISPLAY_MAX)
                shown = tf.cast(serving_graph.resize_sampled(sampled, slots, size), tf.uint8)
                padding = [[0, 0], [0, DISPLAY_MAX - size[0]], [0, DISPLAY_MAX - size[1]], [0, 0]]
                out.update(display_frames=tf.pad(shown, padding),
                           display_size=tf.where(ok, size, 0),
                           source_size=tf.where(ok, source, 0),
                           frame_indices=indices)
            return out

        signature = {"frames": tf.TensorSpec((steps, height, width, 3), tf.float32),
                     "error": tf.TensorSpec((), tf.string)}
        if display:
            signature.update(
                display_frames=tf.TensorSpec((steps, DISPLAY_MAX, DISPLAY_MAX, 3), tf.uint8),
                display_size=tf.TensorSpec((2,), tf.int32),
                source_size=tf.TensorSpec((2,), tf.int32),
                frame_indices=tf.TensorSpec((steps,), tf.int32))
        return serving_graph.map_gifs(one, gifs, signature)

    def model_frames(self, gifs: tf.Tensor) -> tf.Tensor:
        """The frames ``serving_default`` feeds the model, float32 ``[B, T, H, W, 3]``
        (zeros for a refused GIF). Not saved: wrap it in a ``tf.function``
        (benchmarks, tests)."""
        return self._model_inputs(gifs, display=False)["frames"]

    def _serve_gifs(self, gifs: tf.Tensor) -> dict[str, tf.Tensor]:
        decoded = self._model_inputs(gifs, display=False)
        return self._outputs(decoded["frames"], decoded["error"])

    def _predict_with_frames(self, gifs: tf.Tensor) -> dict[str, tf.Tensor]:
        decoded = self._model_inputs(gifs, display=True)
        return {
            **self._outputs(decoded["frames"], decoded["error"]),
            **{name: decoded[name] for name in
               ("display_frames", "display_size", "source_size", "frame_indices")},
        }

    def _serve_frames(self, frames: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._outputs(frames)

    def _outputs(self, frames: tf.Tensor, error: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """The model's outputs by name; with ``error`` (per GIF, ``""`` when it
        decoded) also ``error`` and ``ok``, and a refused GIF's predictions
        are NaN, its ``category_id`` -1 and its names empty."""
        # A fixed batch (LiteRT's frames function) runs the model in place.
        outputs = (self._run_model(frames) if frames.shape[0] is None
                   else self.model(frames, training=False))
        batch = tf.shape(frames)[0]
        ok = None if error is None else tf.equal(error, "")

        def kept(value: tf.Tensor, missing: Any) -> tf.Tensor:
            if ok is None:  # frames in: nothing was refused (and no selects for LiteRT)
                return value
            mask = tf.reshape(ok, tf.concat([[batch], tf.ones([tf.rank(value) - 1], tf.int32)],
                                            0))
            return tf.where(mask, value, tf.cast(missing, value.dtype))

        intensities = kept(tf.cast(outputs["intensities"], tf.float32), float("nan"))
        category = kept(tf.cast(outputs["category"], tf.float32), float("nan"))
        # Names are in the graph, so a REST client needs no label file.
        emotions = self.emotion_names.read_value()
        categories = self.category_names.read_value()
        category_id = kept(tf.argmax(category, axis=-1, output_type=tf.int32), -1)
        order = tf.argsort(intensities, axis=-1, direction="DESCENDING", stable=True)
        result = {
            "intensities": intensities,
            "category": category,
            "attention": kept(tf.cast(outputs["attention"], tf.float32), float("nan")),
            "category_id": category_id,
            "category_name": kept(tf.gather(categories, tf.maximum(category_id, 0)), ""),
            "emotion_names": tf.tile(emotions[tf.newaxis], [batch, 1]),
            "ranked_emotions": kept(tf.gather(emotions, order), ""),
            "ranked_intensities": tf.gather(intensities, order, batch_dims=1),
            "valence": kept(tf.cast(outputs["valence"], tf.float32), float("nan")),
            "arousal": kept(tf.cast(outputs["arousal"], tf.float32), float("nan")),
        }
        if error is not None:
            result.update(error=error, ok=ok)
        return result
