"""Limits the CLI states in its help and the pipeline enforces, kept where both can import them cheaply."""

DEFAULT_BY = 512  # depth of a growth step, px
MAX_BY = 8192  # deepest step --by accepts (deeper than half a tile takes several rings of tiles)
