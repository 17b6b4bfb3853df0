"""``python -m imkerutils``: the ``imkerutils`` command."""

from imkerutils.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
