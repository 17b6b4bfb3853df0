"""Prompt templates, their versions and hashes (pure: no I/O)."""

from imkerutils.exquisite.prompt import templates
from imkerutils.exquisite.prompt.templates import *  # noqa: F403 (its __all__ names them)

# The package re-exports templates.py's public names: one list, that module's.
__all__ = templates.__all__
