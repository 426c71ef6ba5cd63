"""Writing a synthetic dataset: GIFs, keypoints, manifest, votes and the config sidecar."""

from __future__ import annotations

import csv
import json
import logging
import os
import pathlib
import time
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from kavan_tf.synthetic.config import CONFIG_FILE, STREAM_SPLIT, SyntheticConfig
from kavan_tf.synthetic.render import encode_gif, keypoint_document, render_example
from kavan_tf.synthetic.votes import simulate_votes, write_votes

logger = logging.getLogger(__name__)


def _synthetic_marker(folders: list[str]) -> dict[str, Any] | None:
    for folder in folders:
        path = os.path.join(folder, CONFIG_FILE)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    return json.load(f)
            except (OSError, ValueError):
                return {}
    return None


def data_origin(rows: Any, manifest_path: str | None = None) -> dict[str, Any]:
    """Where manifest rows come from: ``{"synthetic": bool, "label_mode": str}``.

    Synthetic when the generator's ``synthetic.json`` lies beside the
    manifest or the GIFs (its label mode is then the generator's); else
    ``"gifgif votes"`` for a ``kavan votes`` manifest, ``"manifest scores"``
    otherwise. The model card and ``kavan prepare`` record it.
    """
    folders = []
    if manifest_path:
        folders.append(os.path.dirname(os.path.abspath(manifest_path)))
    if rows is not None and len(rows):
        gif_folder = os.path.dirname(str(rows["path"].iloc[0]))
        folders += [gif_folder, os.path.dirname(gif_folder)]
    marker = _synthetic_marker(folders)
    if marker is not None:
        label_mode = (marker.get("config") or {}).get("label_mode")
    elif rows is not None and "n_votes" in rows:
        label_mode = "gifgif votes"
    else:
        label_mode = "manifest scores"
    return {"synthetic": marker is not None, "label_mode": label_mode}


def read_config(dataset_dir: str | os.PathLike[str]) -> SyntheticConfig:
    """Reads the :class:`SyntheticConfig` a dataset was generated with."""
    path = pathlib.Path(dataset_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a synthetic dataset (no {CONFIG_FILE})")
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    return SyntheticConfig.from_dict(document["config"])


def generate_dataset(
    out_dir: str | os.PathLike[str],
    config: SyntheticConfig | None = None,
    progress: bool = False,
) -> pathlib.Path:
    """Writes a synthetic dataset: GIFs, keypoint files, manifest, optional votes.

    Layout under ``out_dir``: ``gifs/<gif_id>.gif``,
    ``keypoints/<gif_id>.json``, ``manifest.csv``, ``votes.csv.gz`` (when
    ``config.votes_per_gif > 0``) and ``synthetic.json`` (the config).

    Args:
        out_dir: Output folder, created if needed; existing files of the same
            names are overwritten.
        config: The dataset's settings (defaults: 300 GIFs, seed 0).
        progress: Show a tqdm progress bar.

    Returns:
        The manifest's path.
    """
    config = config if config is not None else SyntheticConfig()
    began = time.perf_counter()
    root = pathlib.Path(out_dir)
    (root / "gifs").mkdir(parents=True, exist_ok=True)
    (root / "keypoints").mkdir(parents=True, exist_ok=True)
    split_rng = np.random.default_rng([config.seed, STREAM_SPLIT])
    order = split_rng.permutation(config.num_gifs)
    is_test = np.zeros(config.num_gifs, dtype=bool)
    is_test[order[: int(round(config.test_fraction * config.num_gifs))]] = True

    emotions = config.labels.emotions
    rows, all_intensities = [], []
    counts = np.zeros(config.labels.num_categories, dtype=np.int64)
    for index in tqdm(range(config.num_gifs), desc="synthetic GIFs", disable=not progress):
        example, palette_frames = render_example(config, index)
        gif_path = f"gifs/{example.gif_id}.gif"
        keypoint_path = f"keypoints/{example.gif_id}.json"
        (root / gif_path).write_bytes(encode_gif(example, palette_frames))
        document = keypoint_document(example, config.frame_size)
        (root / keypoint_path).write_text(json.dumps(document, separators=(",", ":")) + "\n")
        rows.append(
            [example.gif_id, gif_path]
            + [f"{s:.4f}" for s in example.scores]
            + [keypoint_path, "test" if is_test[index] else "train"]
        )
        all_intensities.append(example.intensities)
        counts[example.category] += 1

    manifest = root / "manifest.csv"
    with open(manifest, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["gif_id", "path", *emotions, "keypoints", "split"])
        writer.writerows(rows)
    if config.votes_per_gif > 0:
        votes = simulate_votes(np.stack(all_intensities), [r[0] for r in rows], config)
        write_votes(root / ("votes.csv.gz" if config.votes_gzip else "votes.csv"), votes)
    with open(root / CONFIG_FILE, "w", encoding="utf-8") as f:
        json.dump({"generator": __name__, "config": config.to_dict()}, f, indent=2, sort_keys=True)
        f.write("\n")
    logger.info(
        "Wrote %d synthetic GIFs to %s in %.1f s; categories %s",
        config.num_gifs,
        root,
        time.perf_counter() - began,
        dict(zip(config.labels.category_names, counts.tolist(), strict=True)),
    )
    return manifest
