"""``kavan votes``: GIFGIF vote dump -> TrueSkill scores -> manifest."""

from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("votes", help="GIFGIF vote dump -> TrueSkill scores -> manifest")
    p.add_argument("votes", help="the vote dump (.csv or .csv.gz)")
    p.add_argument("out", help="manifest to write (.csv or .parquet)")
    p.add_argument("--images", help="folder with <gif_id>.gif files")
    p.add_argument("--min-votes", type=int, default=0)
    p.add_argument("--drop-missing", action="store_true", help="drop GIFs without a file")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from kavan_tf.data.gifgif import votes_to_manifest  # keeps pandas, scipy out of kavan --help

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
