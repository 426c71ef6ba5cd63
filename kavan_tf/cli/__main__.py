"""``python -m kavan_tf.cli``."""

import sys

from kavan_tf.cli import main

sys.exit(main())
