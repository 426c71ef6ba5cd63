"""Turning GIF files, keypoints and votes into training examples (docs/data.md)."""
