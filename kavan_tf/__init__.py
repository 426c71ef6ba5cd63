"""kavan_tf: human-centred emotion recognition in animated GIFs (KAVAN, ICME 2019)."""

__version__ = "0.1.0"
