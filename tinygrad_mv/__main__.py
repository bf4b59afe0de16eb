"""``python -m tinygrad_mv``: the command line."""
import sys

from .cli import main

sys.exit(main())
