"""The command line's commands, one module each (``tinygrad-mv NAME``, see cli.py): ``demo``,
``curve``, ``gaussian``, ``graph``, ``gradcheck``, ``bench``, ``export``, ``examples`` and
``run``; each has ``HELP``, ``add_arguments(parser)`` and ``run(args)``."""
