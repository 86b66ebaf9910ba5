"""``python -m anycapture``: the same command line as the ``anycapture`` script."""

from ._cli import main

raise SystemExit(main())
