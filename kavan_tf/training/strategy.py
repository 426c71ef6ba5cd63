"""Choosing the tf.distribute strategy (docs/training.md#several-machines)."""

from __future__ import annotations

import logging

import tensorflow as tf

from kavan_tf.training.cluster import check_tf_config

logger = logging.getLogger(__name__)


def get_strategy(distribute: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy to build and train the model under.

    Args:
        distribute: ``"auto"``: ``MultiWorkerMirroredStrategy`` when
            ``TF_CONFIG`` names a cluster (the standard way past one machine),
            ``MirroredStrategy`` over all visible GPUs when there are several,
            otherwise the default strategy (one GPU or the CPU).
            ``"mirrored"``: ``MirroredStrategy`` over whatever devices it finds
            (GPUs, else the CPU). ``"none"``: the default strategy.

    Returns:
        A ``tf.distribute.Strategy``.
    """
    if distribute not in ("auto", "mirrored", "none"):
        raise ValueError(
            "`distribute` must be 'auto', 'mirrored' or 'none'. "
            f"Received: distribute={distribute!r}"
        )
    if distribute == "none":
        return tf.distribute.get_strategy()
    if distribute == "auto" and check_tf_config() is not None:
        logger.info("TF_CONFIG is set: using MultiWorkerMirroredStrategy")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if distribute == "mirrored" or len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
        logger.info("Using MirroredStrategy with %d replicas", strategy.num_replicas_in_sync)
        return strategy
    return tf.distribute.get_strategy()
