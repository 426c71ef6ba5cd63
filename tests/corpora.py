"""Where the external test corpora live: one setting for the tests and the benchmarks.

The corpora (the third-party GIF suites under ``gifs/`` and the annotated face
photos under ``faces/``) are never copied into the repository. The environment
variable ``KAVAN_TESTDATA`` names their folder; unset, the folder is
``testdata`` in the ``shared`` folder beside the repository, when that exists.
Standard library only, so that benchmarks can import it without the package.
"""

from __future__ import annotations

import os
import pathlib

ENV_VAR = "KAVAN_TESTDATA"
DEFAULT = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
"""The folder used when ``KAVAN_TESTDATA`` is unset (``../shared/testdata`` from the repository)."""

MISSING = (
    f"external test corpora not found: set {ENV_VAR} to a folder with gifs/ and faces/ "
    "(default ../shared/testdata)"
)
"""Why corpus tests skip, and why a benchmark that needs the corpora stops."""


def testdata_path() -> pathlib.Path | None:
    """The corpora folder, or ``None`` when ``KAVAN_TESTDATA`` is unset and the
    default folder is absent.

    Raises ``FileNotFoundError`` when ``KAVAN_TESTDATA`` is set to a folder that
    does not exist: a user error, never a reason to skip.
    """
    value = os.environ.get(ENV_VAR)
    if value:
        path = pathlib.Path(value).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"{ENV_VAR}={value!r} is not a folder")
        return path
    return DEFAULT if DEFAULT.is_dir() else None


def require_testdata() -> pathlib.Path:
    """The corpora folder, for benchmarks: raises ``FileNotFoundError`` when absent."""
    path = testdata_path()
    if path is None:
        raise FileNotFoundError(MISSING)
    return path
