"""Turning GIF files, keypoints and votes into training examples (SPEC 1-4)."""
