"""``python -m imkerutils.exquisite.ui PATH``: the same as ``imkerutils ui PATH``."""

from imkerutils.cli.ui import main

raise SystemExit(main())
