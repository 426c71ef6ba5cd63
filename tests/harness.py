"""Shared round-trip checks for layers and models.

In the manner of keras' ``testing.TestCase.run_layer_test`` and keras-hub's
``run_model_saving_test``: one function per kind of object, so that every
layer and model of the package is held to the same contract instead of each
test file writing its own save-and-compare.
"""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np


def _as_list(value) -> list:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _as_list(item)]
    return [value]


def _assert_outputs_equal(expected, actual, what: str) -> None:
    expected, actual = _as_list(expected), _as_list(actual)
    assert len(expected) == len(actual), what
    for index, (a, b) in enumerate(zip(expected, actual, strict=True)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b),
                                      err_msg=f"{what}: output {index}")


def _assert_configs_equal(actual: dict, expected: dict, what: str) -> None:
    """Equal as saved: compared after a JSON round trip (tuples become lists)."""
    actual, expected = (json.loads(json.dumps(c, default=str)) for c in (actual, expected))
    differ = {k for k in set(actual) | set(expected)
              if k not in actual or k not in expected or actual[k] != expected[k]}
    assert not differ, f"{what}: config differs in {sorted(differ)}: " + ", ".join(
        f"{k}={actual.get(k)!r} (expected {expected.get(k)!r})" for k in sorted(differ))


def run_layer_test(
    layer_cls: type[keras.layers.Layer],
    init_kwargs: dict[str, Any],
    input_shapes: Sequence[tuple[int, ...]],
    tmp_path: pathlib.Path,
    *,
    wrap: Callable[[keras.layers.Layer, list], Any] | None = None,
    seed: int = 0,
    batch: int = 2,
) -> keras.Model:
    """Checks a layer's configuration and saving contract.

    1. ``get_config`` is complete: every constructor argument given (of a
       plain type) is in it with its value; ``from_config(get_config())``
       has the same config, and with the original's weights gives the same
       outputs.
    2. ``keras.saving.serialize_keras_object`` / ``deserialize_keras_object``
       give back the registered class with the same config.
    3. A functional model around it survives a ``.keras`` save and load with
       bit-equal outputs, and the restored layer has the same config.

    Args:
        layer_cls: The layer class.
        init_kwargs: Its constructor arguments.
        input_shapes: The shapes of its inputs without the batch axis (a layer
            with one input gets one shape).
        tmp_path: Where the ``.keras`` file goes.
        wrap: ``wrap(layer, inputs)`` returns the outputs (default: ``layer``
            called on the one input, or on the list of inputs); e.g. a cell
            wrapped in ``keras.layers.RNN``.
        seed: Seed of the random inputs.
        batch: Batch size of the random inputs.

    Returns:
        The functional model that was saved.
    """
    wrap = wrap or (lambda layer, inputs: layer(inputs[0] if len(inputs) == 1 else inputs))
    rng = np.random.default_rng(seed)
    data = [rng.normal(size=(batch,) + tuple(shape)).astype("float32") for shape in input_shapes]
    feed = data if len(data) > 1 else data[0]

    def functional(layer):
        inputs = [keras.Input(shape) for shape in input_shapes]
        return keras.Model(inputs if len(inputs) > 1 else inputs[0], wrap(layer, inputs))

    layer = layer_cls(**init_kwargs)
    model = functional(layer)
    expected = model(feed)

    config = layer.get_config()
    plain = {k: v for k, v in init_kwargs.items()
             if isinstance(v, (bool, int, float, str, list, tuple, type(None)))}
    missing = sorted(set(plain) - set(config))
    assert not missing, f"{layer_cls.__name__}.get_config lacks the arguments {missing}"
    _assert_configs_equal({k: config[k] for k in plain}, plain,
                          f"{layer_cls.__name__}.get_config against its arguments")
    twin = type(layer).from_config(copy.deepcopy(config))  # some from_configs pop keys
    _assert_configs_equal(twin.get_config(), config, f"{type(layer).__name__}.from_config")
    twin_model = functional(twin)
    twin_model.set_weights(model.get_weights())
    _assert_outputs_equal(expected, twin_model(feed), f"{type(layer).__name__}.from_config")

    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    _assert_configs_equal(restored.get_config(), config, f"{type(layer).__name__} deserialised")

    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    _assert_outputs_equal(expected, loaded(feed),
                          f"{type(layer).__name__} after a .keras round trip")
    found = _find_layer(loaded, config["name"])
    assert type(found) is type(layer)
    _assert_configs_equal(found.get_config(), config, f"{type(layer).__name__} restored")
    return model


def _find_layer(model: keras.Model, name: str):
    """The layer called ``name`` among the model's layers or their wrapped
    layers and cells (public attributes only)."""
    todo = list(model.layers)
    while todo:
        layer = todo.pop()
        if layer.name == name:
            return layer
        todo.extend(getattr(layer, attr) for attr in ("cell", "layer") if hasattr(layer, attr))
    raise AssertionError(f"no layer named {name!r} in the restored model")


def run_model_saving_test(
    model: keras.Model,
    inputs: Any,
    tmp_path: pathlib.Path,
    *,
    compare: Callable[[keras.Model, keras.Model], None] | None = None,
) -> keras.Model:
    """Saves ``model`` as ``.keras``, loads it, and checks the same class and
    bit-equal predictions; ``compare(model, restored)`` adds model-specific
    checks. Returns the restored model."""
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    _assert_outputs_equal(model.predict(inputs, verbose=0), restored.predict(inputs, verbose=0),
                          f"{type(model).__name__} after a .keras round trip")
    if compare is not None:
        compare(model, restored)
    return restored
