"""``kavan synth``: write a synthetic dataset (GIFs, keypoints, manifest)."""

from __future__ import annotations

import argparse

from kavan_tf.synthetic import LABEL_MODES, SyntheticConfig, generate_dataset


def add_parser(sub) -> argparse.ArgumentParser:
    defaults = SyntheticConfig  # its field defaults are the CLI's
    p = sub.add_parser("synth", help="write a synthetic dataset (GIFs, keypoints, manifest)")
    p.add_argument("out", help="output folder")
    p.add_argument("--num-gifs", type=int, default=defaults.num_gifs)
    p.add_argument("--size", type=int, default=defaults.frame_size[0],
                   help="frame width and height")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--votes-per-gif", type=float, default=defaults.votes_per_gif,
                   help="also simulate GIFGIF-style pairwise votes")
    p.add_argument("--label-mode", choices=LABEL_MODES, default=defaults.label_mode,
                   help="emotion = direction of the expression's change, where it ends (the "
                        "demo uses 'end'), or the expression shown in one half of the GIF, "
                        "neutral elsewhere ('segment', docs/synthetic.md)")
    p.add_argument("--face-scale", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="head half-width range as a fraction of the frame (demo: 0.27 0.3)")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    low, high = args.face_scale or SyntheticConfig.face_scale
    config = SyntheticConfig(
        num_gifs=args.num_gifs,
        seed=args.seed,
        frame_size=(args.size, args.size),
        votes_per_gif=args.votes_per_gif,
        label_mode=args.label_mode,
        face_scale=(low, high),
    )
    manifest = generate_dataset(args.out, config, progress=True)
    print(f"Wrote {config.num_gifs} synthetic GIFs; manifest: {manifest}")
    return 0
