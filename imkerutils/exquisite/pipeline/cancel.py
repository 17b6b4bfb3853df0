"""A cancellation token for a running step."""

from __future__ import annotations

import threading

from imkerutils.errors import StepCancelledError

__all__ = ["Cancel"]


class Cancel:
    """A cancellation token: :meth:`set` it from any thread (or a signal handler) to stop a step.

    The pipeline asks it before every generator call and before the commit; a set token makes the
    step raise :class:`~imkerutils.errors.StepCancelledError` with nothing written.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask the step to stop (safe from any thread or a signal handler)."""
        self._event.set()

    def is_set(self) -> bool:
        """Return whether cancellation was asked for."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`StepCancelledError` if the token is set."""
        if self._event.is_set():
            raise StepCancelledError("cancelled; nothing was written")
