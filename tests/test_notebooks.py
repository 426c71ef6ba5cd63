"""The notebooks run from top to bottom, on tiny sizes, in a kernel of this Python."""

import ast
import json
import pathlib
import sys

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"

TINY = {"NUM_GIFS": 16, "FRAME_SIZE": 32, "HIDDEN_SIZE": 8, "EPOCHS": 1, "SEED": 0}


def _parameters(notebook) -> tuple[int, dict]:
    """Index and values of the first code cell, which must be tagged ``parameters``."""
    index = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    cell = notebook.cells[index]
    assert "parameters" in cell.metadata.get("tags", []), "first code cell is not tagged"
    values = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), "the parameters cell only assigns constants"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return index, values


def _run(name: str, tmp_path: pathlib.Path, **overrides) -> tuple[nbformat.NotebookNode, str]:
    """Executes a notebook with its parameters replaced; returns it and its text output."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    index, values = _parameters(notebook)
    settings = {**TINY, **overrides, "WORK_DIR": str(tmp_path / "work")}
    unknown = sorted(set(settings) - set(values))
    assert not unknown, f"{name}: no parameters {unknown}"
    values.update(settings)
    notebook.cells[index].source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint('PREFIX=' + sys.prefix)"))
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    text = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                text.append(output.text)
            elif "data" in output:
                text.append(output.data.get("text/plain", ""))
    return notebook, "".join(text)


def _has_image(notebook, mime: str) -> int:
    return sum(
        mime in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


@pytest.fixture(autouse=True)
def _kernel_is_this_python():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    # jupyter_client swaps a bare "python" for the running interpreter.
    assert spec.argv[0] in ("python", "python3", sys.executable), spec.argv


def _check_kernel_prefix(text: str) -> None:
    assert f"PREFIX={sys.prefix}" in text, "the notebook ran in another Python"


def test_notebooks_are_clean():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name
                assert "class " not in cell.source, path.name
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3"


def test_quickstart(tmp_path):
    notebook, text = _run("quickstart", tmp_path, NUM_FRAMES=4)
    _check_kernel_prefix(text)
    assert "test accuracy:" in text and "test nMSE per GIF:" in text
    assert "val_intensities_nmse" in text
    assert (tmp_path / "work" / "model.keras").is_file()
    assert _has_image(notebook, "image/gif") == 1


def test_attention(tmp_path):
    notebook, text = _run("attention", tmp_path, NUM_SHOWN=2)
    _check_kernel_prefix(text)
    assert text.count("(rows: frames, attention, keypoint heatmaps)") == 2
    assert _has_image(notebook, "image/png") == 2
    assert "attention mass on the face:" in text
    overlays = sorted((tmp_path / "work" / "overlays").glob("*.attention.gif"))
    assert len(overlays) == 2
    assert _has_image(notebook, "image/gif") == 1


def test_tuning(tmp_path):
    notebook, text = _run("tuning", tmp_path, MAX_TRIALS=2)
    _check_kernel_prefix(text)
    assert "Best hyperparameters:" in text
    assert "w_rank" in text and "val_intensities_nmse" in text
    trials = list((tmp_path / "work" / "tuner" / "kavan").glob("trial_*"))
    assert len(trials) == 2
