"""kavan_tf: human-centred emotion recognition in animated GIFs (KAVAN, ICME 2019).

``import kavan_tf`` is enough for ``keras.saving.load_model`` to load the
``.keras`` files the package writes: the package's Keras classes
(:class:`kavan_tf.models.KavanModel`, :class:`kavan_tf.inference.InferenceModel`,
their layers, losses, metrics and optimizer) are registered as soon as Keras
is imported, before or after this package, without importing Keras here
(``kavan --help`` stays free of TensorFlow).
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import warnings
from typing import Any

__version__ = "0.1.0"

# Importing Keras imports TensorFlow, which imports Keras again, and the
# package's own modules import Keras: the classes are registered once Keras,
# TensorFlow and every kavan_tf module being imported have finished initialising.
_WATCHED = ("keras", "tensorflow")


def _watched(name: str) -> bool:
    return name in _WATCHED or name.startswith("kavan_tf.")


def _initialising(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and bool(getattr(spec, "_initializing", False))


def _register() -> None:
    """Imports the modules that register the package's Keras classes, once Keras is ready."""
    if "keras" not in sys.modules or any(
        _initialising(name) for name in list(sys.modules) if _watched(name)
    ):
        return
    _RegisterAfterImport.remove()
    try:
        importlib.import_module("kavan_tf.models")
        importlib.import_module("kavan_tf.inference")
    except Exception as e:  # never break the caller's own import of Keras
        warnings.warn(f"kavan_tf could not register its Keras classes ({e}); import "
                      "kavan_tf.models before loading its .keras files", stacklevel=2)


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Runs :func:`_register` after ``keras``, ``tensorflow`` or a ``kavan_tf`` module loads."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if not _watched(fullname):
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                # __spec__._initializing is cleared after exec_module returns.
                spec = getattr(module, "__spec__", None)
                if spec is not None:
                    spec._initializing = False
                _register()

            def __getattr__(self, name: str) -> Any:
                return getattr(loader, name)

        spec.loader = _Loader()
        return spec

    @classmethod
    def remove(cls) -> None:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, cls)]


sys.meta_path.insert(0, _RegisterAfterImport())
_register()
