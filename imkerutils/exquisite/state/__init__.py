"""Step records, the artifact layout and the cost budget: serialisable values, no hidden I/O."""

from imkerutils.exquisite.state import artifacts, budget, record
from imkerutils.exquisite.state.artifacts import *  # noqa: F403 (each module's __all__ names its public names)
from imkerutils.exquisite.state.budget import *  # noqa: F403
from imkerutils.exquisite.state.record import *  # noqa: F403

# The package re-exports its modules' public names: one list each, the module's own.
__all__ = [*artifacts.__all__, *budget.__all__, *record.__all__]
