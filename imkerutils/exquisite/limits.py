"""Limits the CLI states in its help and the pipeline enforces, kept where both can import them cheaply."""

from imkerutils.errors import InvalidGrowSettingsError

DEFAULT_BY = 512  # depth of a growth step, px
MAX_BY = 8192  # deepest step --by accepts (deeper than half a tile takes several rings of tiles)


def check_by(by: int) -> int:
    """Return ``by``, the depth of a growth step, if ``--by`` accepts it (1 to ``MAX_BY`` px); raise otherwise."""
    if not 1 <= by <= MAX_BY:
        raise InvalidGrowSettingsError(f"--by must be between 1 and {MAX_BY} px, got {by}")
    return by
