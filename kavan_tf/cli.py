"""The ``kavan`` command line.

Examples:

```
kavan demo                                   # the whole pipeline on synthetic GIFs
kavan synth data/synth --num-gifs 300        # write a synthetic dataset
kavan votes gifgif-dataset-20150121-v1.csv.gz data/manifest.csv --images gifs/
kavan keypoints --manifest data/manifest.csv --out data/keypoints --source dlib
kavan train --config experiment.toml --manifest data/manifest.csv
kavan evaluate --config experiment.toml --manifest data/manifest.csv --out results/
kavan tune --manifest data/manifest.csv --out runs/tuning --trials 10 --epochs 5
kavan export runs/kavan/model.keras --name kavan
kavan predict some.gif --model savedmodels/kavan
```
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

logger = logging.getLogger("kavan_tf")


def _load_config(path: str | None, sets: Sequence[str] = ()):
    from kavan_tf.config import KavanConfig

    config = KavanConfig.from_file(path) if path else KavanConfig()
    if sets:
        config = apply_sets(config, sets)
    return config


def apply_sets(config, sets: Sequence[str]):
    """Applies ``section.key=value`` overrides (values parsed as JSON, else strings)."""
    import json

    from kavan_tf.config import KavanConfig

    values = config.to_dict()
    for item in sets:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"--set expects section.key=value. Received: {item!r}")
        dotted, raw = item.split("=", 1)
        section, key = dotted.split(".", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if section not in values:
            raise ValueError(
                f"--set {item!r}: unknown section {section!r}. Known: {sorted(values)}"
            )
        values[section][key] = value
    return KavanConfig.from_dict(values)


def _cmd_synth(args: argparse.Namespace) -> int:
    from kavan_tf.synthetic import SyntheticConfig, generate_dataset

    config = SyntheticConfig(
        num_gifs=args.num_gifs,
        seed=args.seed,
        frame_size=(args.size, args.size),
        votes_per_gif=args.votes_per_gif,
        label_mode=args.label_mode,
        **({"face_scale": tuple(args.face_scale)} if args.face_scale else {}),
    )
    manifest = generate_dataset(args.out, config, progress=True)
    print(f"Wrote {config.num_gifs} synthetic GIFs; manifest: {manifest}")
    return 0


def _cmd_votes(args: argparse.Namespace) -> int:
    from kavan_tf.data.gifgif import votes_to_manifest

    report = votes_to_manifest(
        args.votes,
        args.out,
        images_dir=args.images,
        min_votes=args.min_votes,
        drop_missing=args.drop_missing,
        progress=True,
    )
    print(report.summary())
    return 0


def _read_rows(config, manifest: str):
    from kavan_tf.data.manifest import read_manifest

    return read_manifest(manifest, config.labels)


def _cmd_train(args: argparse.Namespace) -> int:
    from kavan_tf.config import with_overrides

    config = _load_config(args.config, args.set)
    if args.out:
        config = with_overrides(config, train={"output_dir": args.out})
    if args.shards:
        from kavan_tf.training.trainer import shard_dataset, train

        ignored = [flag for flag, value in (("--manifest", args.manifest),
                                            ("--train-split", args.train_split),
                                            ("--val-split", args.val_split)) if value]
        if ignored:
            raise ValueError(
                f"--shards {args.shards} already holds the training data; drop "
                f"{', '.join(ignored)} (validate on a prepared folder with --val-shards)"
            )

        val = shard_dataset(args.val_shards, config, training=False) if args.val_shards else None
        result = train(config, None, train_dataset=shard_dataset(args.shards, config,
                                                                 training=True),
                       val_dataset=val, data_description=_describe_shards(args.shards))
        print(f"Trained model written to {os.path.join(result.output_dir, 'model.keras')}")
        return 0
    if not args.manifest:
        raise ValueError("kavan train needs --manifest or --shards")
    if args.val_shards:
        raise ValueError(
            f"--val-shards {args.val_shards} needs --shards (with --manifest, "
            "validate with --val-split)"
        )
    rows = _read_rows(config, args.manifest)  # errors before TensorFlow is imported
    from kavan_tf.training.trainer import split_frame, train

    train_rows = split_frame(rows, args.train_split, args.manifest) if args.train_split else rows
    val_rows = split_frame(rows, args.val_split, args.manifest) if args.val_split else None
    from kavan_tf.model_card import describe_data

    result = train(config, train_rows, val_rows,
                   data_description=describe_data(train_rows, args.manifest, val_rows))
    print(f"Trained model written to {os.path.join(result.output_dir, 'model.keras')}")
    return 0


def _describe_shards(folder: str) -> dict:
    """The model card's ``data`` entry for a ``kavan prepare`` folder."""
    import json

    from kavan_tf.data.prepare import SETTINGS_FILE

    path = os.path.join(folder, SETTINGS_FILE)
    settings = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            settings = json.load(f)
    return {"manifest": None, "prepared": os.path.abspath(folder),
            "sha256": settings.get("gif_ids_hash"), "train_gifs": settings.get("num_rows"),
            "val_gifs": None, "synthetic": bool(settings.get("synthetic")),
            "label_mode": settings.get("label_mode")}


def _cmd_info(args: argparse.Namespace) -> int:
    import json

    from kavan_tf.model_card import card_path, format_card, read_card

    _require_path(args.model, "model (a SavedModel folder or a .keras file)")
    card = read_card(args.model)
    if card is None:
        raise FileNotFoundError(
            f"{args.model}: no model card ({card_path(args.model) or 'model_card.json'}); "
            "models trained before kavan_tf wrote cards have none"
        )
    print(json.dumps(card, indent=2) if args.json else format_card(card))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from kavan_tf.training.evaluation import (
        print_result,
        results_markdown,
        run_protocol,
        summarise,
    )

    config = _load_config(args.config, args.set)
    rows = _read_rows(config, args.manifest)
    frame = run_protocol(
        config,
        rows,
        args.out,
        ablation_rows=args.rows,
        num_splits=args.splits,
        test_fraction=args.test_fraction,
        baselines=args.baselines,
        verbose=args.verbose,
        on_result=print_result,
    )
    print(results_markdown(summarise(frame), config))
    print(f"Results written to {args.out}/results.md and results.csv")
    return 0


def _cmd_keypoints(args: argparse.Namespace) -> int:
    from kavan_tf.data.keypoint_extraction import MANIFEST_FILE, extract_keypoints, parse_source

    parse_source(args.source)
    _check_task(args)
    manifest_out = args.manifest_out or os.path.join(args.out, MANIFEST_FILE)
    if os.path.abspath(manifest_out) == os.path.abspath(args.manifest) and not args.in_place:
        raise ValueError(
            f"--manifest-out {manifest_out} is the input manifest; pass --in-place to "
            "overwrite it"
        )
    config = _load_config(args.config, args.set)
    rows = _read_rows(config, args.manifest)
    options = {"upsample": args.upsample, "min_face_size": args.min_face_size,
               "max_faces": args.max_faces}
    report = extract_keypoints(
        rows, args.out, args.source,
        estimator_options=options if not args.source.startswith("openpose:") else None,
        max_gap=args.max_gap, fill_confidence=args.fill_confidence,
        data=config.data, labels=config.labels, workers=args.workers,
        task_index=args.task_index, num_tasks=args.num_tasks,
        manifest_out=manifest_out, progress=True,
    )
    print(report.summary())
    if os.path.exists(manifest_out) and args.num_tasks == 1:
        print(f"Manifest with keypoints: {manifest_out}")
    elif args.num_tasks > 1:
        print(f"Task {args.task_index} of {args.num_tasks} done; the last task to finish "
              f"writes {manifest_out}")
    return 1 if report.failures else 0


def _check_task(args: argparse.Namespace) -> None:
    if args.num_tasks < 1:
        raise ValueError(f"--num-tasks must be >= 1. Received: {args.num_tasks}")
    if not 0 <= args.task_index < args.num_tasks:
        raise ValueError(
            f"--task-index must be in [0, --num-tasks). Received: --task-index "
            f"{args.task_index} with --num-tasks {args.num_tasks}"
        )


def _cmd_prepare(args: argparse.Namespace) -> int:
    from kavan_tf.data.prepare import prepare

    _check_task(args)
    config = _load_config(args.config, args.set)
    rows = _read_rows(config, args.manifest)
    features = None
    if args.features:
        from kavan_tf.training.feature_cache import feature_cache_writer

        features = feature_cache_writer(args.out, config, task_index=args.task_index,
                                        num_tasks=args.num_tasks)
    report = prepare(rows, args.out, config, shard_size=args.shard_size,
                     encoding=args.encoding, feature_cache=features, progress=True,
                     task_index=args.task_index, num_tasks=args.num_tasks)
    print(report.summary())
    return 1 if report.failures else 0


def _results_command(args: argparse.Namespace) -> str:
    """The ``kavan results`` command line of ``args``, written on the page it makes."""
    words = ["kavan results", f"--num-gifs {args.num_gifs}", f"--epochs {args.epochs}",
             f"--splits {args.splits}", f"--seeds {args.seeds}",
             " ".join(["--benchmarks", *args.benchmarks]),
             " ".join(["--sigma-votes", *(f"{v:g}" for v in args.sigma_votes)])]
    if not args.attention:
        words.append("--no-attention")
    if args.doc != "docs/results.md":
        words.append(f"--doc {args.doc}")
    return " ".join(words)


def _cmd_results(args: argparse.Namespace) -> int:
    from kavan_tf.experiments.results import run_results

    out = run_results(args.out, args.doc, num_gifs=args.num_gifs, epochs=args.epochs,
                      num_splits=args.splits, seeds=args.seeds,
                      benchmarks=tuple(args.benchmarks), sigma_votes=tuple(args.sigma_votes),
                      attention=args.attention, command=_results_command(args))
    for mode, table in out["tables"].items():
        print(f"## {mode}\n{table}")
        print(out["claims"][mode].to_string(index=False))
    if args.doc:
        print(f"Wrote {args.doc} ({out['seconds'] / 60:.0f} minutes)")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from kavan_tf.experiments.tuning import (
        holdout_split,
        resolve_objective,
        results_markdown,
        run_tuning,
    )
    from kavan_tf.training.trainer import split_frame

    objective = resolve_objective(args.objective)
    config = _load_config(args.config, args.set)
    rows = _read_rows(config, args.manifest)
    has_splits = "split" in rows.columns
    if has_splits and args.val_fraction is None:
        train_rows = split_frame(rows, args.train_split, args.manifest)
        val_rows = split_frame(rows, args.val_split, args.manifest)
    else:
        # No split column, or an explicit hold-out: validate on a seeded random
        # share of the training rows, so that a test split stays unseen.
        pool = split_frame(rows, args.train_split, args.manifest) if has_splits else rows
        fraction = 0.2 if args.val_fraction is None else args.val_fraction
        train_rows, val_rows = holdout_split(pool, fraction, config.train.seed)
    table = run_tuning(
        config,
        train_rows,
        val_rows,
        args.out,
        objective=objective,
        max_trials=args.trials,
        epochs=args.epochs,
        algorithm=args.algorithm,
        executions_per_trial=args.executions,
        overwrite=args.overwrite,
        verbose=args.fit_verbose,
    )
    print(results_markdown(table, objective))
    print(f"Results written to {args.out}/tuning_results.md and tuning_results.csv")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from kavan_tf.experiments.demo import run_demo

    run_demo(args.out, quick=args.quick)
    return 0


def _require_path(path: str, what: str) -> None:
    """Fails fast, before TensorFlow is imported, on a path that is not there."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: {what} not found")


def _cmd_export(args: argparse.Namespace) -> int:
    _require_path(args.model, "model (a .keras file)")
    from kavan_tf.predict import run_export

    path = run_export(args.model, args.export_dir, args.name, args.version,
                      precision=args.precision, fold_batch_norm=args.fold_batch_norm)
    print(f"SavedModel written to {path}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    _require_path(args.model, "model (a SavedModel folder or a .keras file)")
    for path in args.inputs:
        _require_path(path, "input (a GIF, WebP, PNG or video file, or a folder of them)")
    if args.keypoints is not None:
        _require_path(args.keypoints, "keypoints (a keypoint file, a folder of them or a "
                                      "manifest)")
        if args.overlay is None and args.report is None:
            raise ValueError("--keypoints: draws supervision heatmaps on the overlays; "
                             "give --overlay DIR or --report FILE as well")
    if args.report is not None and not args.report.lower().endswith((".html", ".htm")):
        raise ValueError(f"--report: {args.report}: the report is an HTML page; "
                         "name it <something>.html")
    from kavan_tf.model_card import read_card, synthetic_warning

    warning = synthetic_warning(read_card(args.model), args.model)
    if warning:
        print(f"kavan predict: {warning}", file=sys.stderr)
    from kavan_tf.predict import run_predict

    return run_predict(
        args.inputs,
        args.model,
        output_format=args.format,
        output=args.output,
        overlay_dir=args.overlay,
        top_k=args.top_k,
        batch_size=args.batch_size,
        decoder=args.decoder,
        report=args.report,
        keypoints=args.keypoints,
        note=warning,
    )


def _add_task_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task-index", type=int, default=0,
                   help="this task's index when the work is split across machines "
                        "(e.g. $SLURM_ARRAY_TASK_ID)")
    p.add_argument("--num-tasks", type=int, default=1, help="tasks the work is split across")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kavan", description="Emotion recognition in animated GIFs (KAVAN, ICME 2019)."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="the whole pipeline on built-in synthetic GIFs")
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("results", help="reproduce docs/results.md (synthetic benchmark)")
    p.add_argument("--out", default="runs/results", help="runs and raw CSVs")
    p.add_argument("--doc", default="docs/results.md", help="the page to write")
    p.add_argument("--num-gifs", type=int, default=640)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3, help="training seeds per split and row")
    p.add_argument("--benchmarks", nargs="*", default=["end", "segment"],
                   choices=["end", "segment", "change"],
                   help="synthetic label modes to run the ablation on (none: skip it)")
    p.add_argument("--sigma-votes", nargs="*", type=float, default=[3.0, 12.0],
                   help="vote budgets of the sigma-weighting experiment (none: skip it)")
    p.add_argument("--no-attention", dest="attention", action="store_false",
                   help="skip the attention-on-faces runs")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser("synth", help="write a synthetic dataset (GIFs, keypoints, manifest)")
    p.add_argument("out", help="output folder")
    p.add_argument("--num-gifs", type=int, default=300)
    p.add_argument("--size", type=int, default=96, help="frame width and height")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--votes-per-gif", type=float, default=0.0, help="also simulate GIFGIF-style pairwise votes"
    )
    from kavan_tf.synthetic import LABEL_MODES, SyntheticConfig

    p.add_argument("--label-mode", choices=LABEL_MODES, default=SyntheticConfig.label_mode,
                   help="emotion = direction of the expression's change, where it ends (the "
                        "demo uses 'end'), or the expression shown in one half of the GIF, "
                        "neutral elsewhere ('segment', docs/synthetic.md)")
    p.add_argument("--face-scale", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="head half-width range as a fraction of the frame (demo: 0.27 0.3)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("prepare", help="decode GIFs once into TFRecord shards (+ feature cache)")
    p.add_argument("--manifest", required=True, help="dataset manifest (.csv/.parquet)")
    p.add_argument("--out", required=True, help="output folder for the shards")
    p.add_argument("--config", help="experiment config (.toml or .json)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--shard-size", type=int, default=256, help="GIFs per shard")
    p.add_argument("--encoding", choices=["jpeg", "png"], default="jpeg")
    p.add_argument("--features", action="store_true",
                   help="also cache the frozen backbone's features (float16; "
                        "data.feature_frames_per_segment frames per TSN segment, default 3)")
    _add_task_arguments(p)
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("keypoints", help="facial keypoints for every frame of a manifest's GIFs")
    p.add_argument("--manifest", required=True, help="dataset manifest (.csv/.parquet)")
    p.add_argument("--out", required=True, help="folder for the keypoint files and the new "
                   "manifest (OUT/manifest.csv)")
    p.add_argument("--source", default="mtcnn",
                   help="mtcnn (default: finds the most faces), dlib (HOG: about 2x faster, "
                        "frontal faces), dlib-cnn (slow on a CPU), or openpose:DIR (import "
                        "OpenPose JSON output); docs/data.md compares them")
    p.add_argument("--upsample", type=int, default=1,
                   help="dlib detectors: double the frame this many times before searching "
                        "(default 1: faces down to about 40 px)")
    p.add_argument("--min-face-size", type=int, default=20, help="smallest face in pixels")
    p.add_argument("--max-faces", type=int, default=None, help="faces kept per frame")
    p.add_argument("--max-gap", type=int, default=3,
                   help="fill runs of up to this many frames without a face from their "
                        "neighbours (0: off)")
    p.add_argument("--fill-confidence", type=float, default=0.5,
                   help="confidence factor of filled frames")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--manifest-out", help="the new manifest (default: OUT/manifest.csv)")
    p.add_argument("--in-place", action="store_true",
                   help="allow --manifest-out to be the input manifest")
    p.add_argument("--config", help="experiment config (decode limits, labels)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    _add_task_arguments(p)
    p.set_defaults(func=_cmd_keypoints)

    p = sub.add_parser("votes", help="GIFGIF vote dump -> TrueSkill scores -> manifest")
    p.add_argument("votes", help="the vote dump (.csv or .csv.gz)")
    p.add_argument("out", help="manifest to write (.csv or .parquet)")
    p.add_argument("--images", help="folder with <gif_id>.gif files")
    p.add_argument("--min-votes", type=int, default=0)
    p.add_argument("--drop-missing", action="store_true", help="drop GIFs without a file")
    p.set_defaults(func=_cmd_votes)

    for name, helptext in (
        ("train", "train one model"),
        ("evaluate", "the paper's protocol: 5 splits x ablation rows"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--config", help="experiment config (.toml or .json)")
        p.add_argument("--manifest", required=name == "evaluate",
                       help="dataset manifest (.csv/.parquet)")
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="SECTION.KEY=VALUE",
            help="override a config value (repeatable)",
        )
        if name == "train":
            p.add_argument("--out", help="output folder (default: train.output_dir)")
            p.add_argument("--train-split", default=None, help="train on rows of this split")
            p.add_argument("--val-split", default=None, help="validate on rows of this split")
            p.add_argument("--shards", help="train on a `kavan prepare` folder instead (frame "
                           "shards; the feature cache when model.input_mode='features')")
            p.add_argument("--val-shards", help="validate on another prepared folder")
            p.set_defaults(func=_cmd_train)
        else:
            p.add_argument("--out", required=True, help="results folder")
            p.add_argument("--rows", nargs="*", help="ablation rows (default: all five)")
            p.add_argument("--splits", type=int, default=5)
            p.add_argument("--test-fraction", type=float, default=0.2)
            p.add_argument(
                "--baselines", nargs="*", default=[], choices=["color_histogram", "face_expression"]
            )
            p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("tune", help="search loss weights and learning rate (Keras Tuner)")
    p.add_argument("--config", help="experiment config (.toml or .json)")
    p.add_argument("--manifest", required=True, help="dataset manifest (.csv/.parquet)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value (repeatable)",
    )
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=None, help="default: train.epochs")
    p.add_argument("--objective", default="nmse", help="nmse, accuracy or a val_* metric name")
    p.add_argument("--algorithm", choices=["random", "bayesian"], default="random")
    p.add_argument(
        "--executions", type=int, default=1, help="training runs (seeds) averaged per trial"
    )
    p.add_argument("--train-split", default="train", help="train on rows of this split")
    p.add_argument("--val-split", default="test", help="validate on rows of this split")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=None,
        help="validate on this random share of the training rows instead "
        "(0.2 when the manifest has no split column)",
    )
    p.add_argument("--overwrite", action="store_true", help="restart instead of resuming")
    p.add_argument("--fit-verbose", type=int, default=2, help="model.fit verbosity")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("export", help="write a TF Serving SavedModel")
    p.add_argument("model", help="a trained .keras model")
    p.add_argument("--export-dir", default="savedmodels")
    p.add_argument("--name", default="kavan")
    p.add_argument("--version", type=int, default=None, help="default: next free version")
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: weights and compute in bfloat16, float32 outputs "
                        "(docs/performance.md)")
    p.add_argument("--no-fold-batch-norm", dest="fold_batch_norm", action="store_false",
                   help="serve the backbone as trained instead of with its batch "
                        "normalisations folded into the convolutions (slower)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("info", help="the model card: what a model was trained on")
    p.add_argument("model", help="a .keras file or a SavedModel (model or version folder)")
    p.add_argument("--json", action="store_true", help="the card as JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("predict", help="emotions of GIF (WebP, APNG, MP4, WebM) files")
    p.add_argument("inputs", nargs="+",
                   help="GIF, WebP, APNG, MP4 or WebM files, or folders of them (video needs "
                        "the video extra: pip install 'kavan_tf[video]')")
    p.add_argument("--model", required=True, help="a SavedModel folder or a .keras file")
    p.add_argument("--format", choices=["table", "jsonl", "csv"], default="table")
    p.add_argument("--output", help="write to this file instead of stdout")
    p.add_argument("--overlay", metavar="DIR",
                   help="write attention overlays (animated GIFs at the file's own size, at "
                        "most 480 px, with the top emotions) here")
    p.add_argument("--report", metavar="FILE.html",
                   help="write one self-contained HTML page: originals, overlays, intensity "
                        "bars, sortable by emotion")
    p.add_argument("--keypoints", metavar="PATH",
                   help="with --overlay/--report: show the supervision heatmaps of these "
                        "keypoints beside the attention (a folder from `kavan keypoints`, "
                        "its manifest.csv, or one keypoint file)")
    from kavan_tf.config import TOP_K

    p.add_argument("--top-k", type=int, default=TOP_K, help="emotions listed per file")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--decoder", choices=["graph", "python"], default="graph",
                   help="SavedModels: decode in the graph (as TF Serving does) or with the "
                        "reference Python decoder")
    p.set_defaults(func=_cmd_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kavan`` command.

    Errors in the input are one line, ``kavan <command>: <path>: <cause>``,
    with exit status 2. TensorFlow's native start-up output is kept off the
    terminal (``-v`` shows it) and printed only when the command fails
    unexpectedly (:mod:`kavan_tf.quiet`).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from kavan_tf.errors import KavanError
    from kavan_tf.quiet import native_stderr_captured

    with native_stderr_captured(enabled=not args.verbose) as captured:
        try:
            return int(args.func(args) or 0)
        except (KavanError, ValueError, FileNotFoundError) as e:
            print(f"kavan {args.command}: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"kavan {args.command}: interrupted", file=sys.stderr)
            return 130
        except ImportError as e:
            sys.stderr.write(captured.text())
            print(f"kavan {args.command}: cannot import {e.name or 'a module'}: {e}",
                  file=sys.stderr)
            return 1
        except BaseException:
            sys.stderr.write(captured.text())
            raise


if __name__ == "__main__":
    sys.exit(main())
