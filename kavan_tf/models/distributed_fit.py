"""Workarounds that let Keras 3's ``model.fit`` run under ``tf.distribute``.

Two Keras bugs stop ``model.fit`` under ``tf.distribute.MultiWorkerMirroredStrategy``
(still open upstream in Keras 3.15; TensorFlow's own multi-worker tutorial fails
on them since TF 2.16, tensorflow/tensorflow#72388):

1. Before the first step, ``_maybe_symbolic_build`` draws one batch from a
   fresh iterator of the training data and reduces it across replicas, which
   fails on a per-replica batch: "Attempt to convert a value (PerReplica:...)
   with an unsupported type" (keras-team/keras#20585). Under every strategy,
   ``MirroredStrategy`` included, that extra iterator also advances a seeded,
   reshuffling dataset by one iteration, so a distributed run sees different
   batches from a single-device run with the same seed.
   :meth:`DistributedFitFixes._maybe_symbolic_build` builds from the
   dataset's element spec instead: nothing is drawn.
2. ``reduce_per_replica`` reduces each logged metric with
   ``strategy.reduce("MEAN", value, axis=0)``, which fails on the scalars that
   ``train_step`` returns: "Invalid reduction dimension 0 for input with 0
   dimensions". :meth:`DistributedFitFixes.train_step` and ``test_step`` give
   scalars a leading axis of length 1 under a multi-worker strategy, so that
   the reduction is the mean over replicas it was meant to be.

Both can be dropped once keras-team/keras#20585 is fixed; the two-worker test
(``tests/test_multiworker.py``) fails without them.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


class DistributedFitFixes:
    """Mixin for ``keras.Model`` subclasses; put it before ``keras.Model``."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            # Keras passes the epoch iterator; build from what a batch looks
            # like (shapes and dtypes) rather than drawing one.
            data_batch = batch_spec(iterator.data_adapter.get_tf_dataset())
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_step(self, data: Any) -> dict[str, Any]:
        return _reducible(self.distribute_strategy, super().train_step(data))

    def test_step(self, data: Any) -> dict[str, Any]:
        return _reducible(self.distribute_strategy, super().test_step(data))


def batch_spec(dataset: Any) -> Any:
    """The ``tf.TensorSpec`` structure of one (global or per-replica) batch."""
    spec = dataset.element_spec

    def one_replica(s):
        values = getattr(s, "_value_specs", None)  # PerReplicaSpec of a distributed dataset
        return values[0] if values else s

    return tf.nest.map_structure(one_replica, spec)


def _reducible(strategy: tf.distribute.Strategy, logs: dict[str, Any]) -> dict[str, Any]:
    if not _is_multi_worker(strategy):
        return logs
    return {
        name: tf.reshape(value, [1]) if getattr(value, "shape", None) == () else value
        for name, value in logs.items()
    }


def _is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()
    )
