"""Command-line entry points: thin layers over :mod:`imkerutils.tiling` and the pipeline."""
