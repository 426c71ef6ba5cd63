"""Trains stored runs of ``kavan results`` again and compares their metrics.

``kavan results`` reuses a finished run whose ``run_key`` matches
(docs/results_runs/README.md). This checks that such a run would come out
the same if trained again with this version: for each ablation row asked
for, it rebuilds the run (same benchmark, split, training seed and
settings), checks that its key is the stored one, trains it with one
thread (as each worker of ``kavan results --jobs 2`` does) and prints the
stored and the new metrics side by side.

    python benchmarks/check_reuse.py --out runs/results --benchmark end \\
        --split 0 --seed 0 --rows lstm att_lstm

``--out`` is the output folder of ``kavan results`` (or a copy of
docs/results_runs: the dataset is generated into ``<out>/data_<benchmark>``
when it is not there). One run of the demo-sized model takes about one to
two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_METRICS = ("accuracy", "nmse", "emotion_nmse", "rank_error", "spearman")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/results",
                        help="the output folder of kavan results")
    parser.add_argument("--benchmark", default="end", choices=["end", "segment", "change"])
    parser.add_argument("--split", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", nargs="+", default=["lstm", "att_lstm"],
                        help="ablation rows (lstm, att_lstm, hslstm, att_hslstm, mtl_att_hslstm)")
    parser.add_argument("--hs-tier1", default=None,
                        help="a reading's runs (protocol_<benchmark>_tier1_<value>/)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--num-gifs", type=int, default=None)
    args = parser.parse_args(argv)

    import pandas as pd
    import tensorflow as tf

    # One thread, as each worker of `kavan results --jobs 2` on 2 cores.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from kavan_tf.config import with_overrides
    from kavan_tf.data.manifest import read_manifest
    from kavan_tf.experiments.demo import demo_config
    from kavan_tf.experiments.results import benchmark_settings, protocol_folder
    from kavan_tf.synthetic import generate_dataset
    from kavan_tf.training.evaluation import protocol_task, run_key, run_tasks

    settings = benchmark_settings(args.benchmark, args.num_gifs, args.epochs)
    manifest = generate_dataset(os.path.join(args.out, f"data_{args.benchmark}"),
                                settings.synthetic, progress=True)
    config = demo_config(settings, args.out)
    folder = protocol_folder(args.benchmark, args.hs_tier1)
    if args.hs_tier1 is not None:
        config = with_overrides(config, model={"hs_tier1": args.hs_tier1})
    rows = read_manifest(manifest, config.labels)
    stored = pd.read_csv(os.path.join(args.out, folder, "results_per_split.csv"))
    stored = stored.set_index("run_key")
    checked = os.path.join(args.out, "check_reuse")
    print(f"| {args.benchmark}, split {args.split}, seed {args.seed} | metric | stored "
          f"| trained again | difference |")
    print("|---|---|---|---|---|")
    status = 0
    for row in args.rows:
        task = protocol_task(config, rows, checked, row=row, split=args.split, seed=args.seed,
                             num_splits=args.splits, seeds=args.seeds)
        key = run_key(task)
        if key not in stored.index:
            print(f"| {row} | no stored run has its key {key}: the settings or the data "
                  "differ from the stored runs' | | | |")
            status = 1
            continue
        ((_, metrics, _),) = list(run_tasks([task]))
        for name in _METRICS:
            if name in metrics and name in stored.columns:
                old, new = float(stored.loc[key, name]), float(metrics[name])
                print(f"| {row} | {name} | {old!r} | {new!r} | {new - old:+.3g} |", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
