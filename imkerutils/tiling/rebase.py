"""Rebase: move a canvas's chunks into arrays with a new margin, as one crash-safe journal operation.

Growing left or up spends the margin the frame keeps before world tile (0, 0); when a step needs more,
the canvas is *rebased* onto a new :class:`~imkerutils.tiling.frame.Frame` (a larger margin, a new
generation of array names).  Likewise after an undo leaves more margin than the layout rule allows.

1. mark ``{"op": "rebase", "frame": ...}`` pending in ``state.json``;
2. create the new generation's arrays and link (local disk) or copy (object storage) every stored chunk of
   every level to its key in the new frame; the chunk bytes do not depend on where a chunk sits;
3. commit: ``state.json`` names the new frame and lists the old arrays as *retired*;
4. the caller rewrites the root ``zarr.json`` (so outside readers switch to the new arrays), then
   :func:`finish` deletes the retired arrays.

Killed before 3, :func:`roll_back` deletes the new arrays (the old ones were never touched); killed after
3, :func:`finish` completes the deletion.  Journal entries, the manifest and the pyramid's dirty markers
name world tiles, so none of them changes.  The work is one link per stored chunk; with the margin
:func:`~imkerutils.tiling.frame.plan_frame` leaves (half of what the rule allows, proportional to the
content), a canvas growing steadily left rebases after growing by about half its size again, so the total
cost stays proportional to what was written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from imkerutils.tiling.frame import Frame
from imkerutils.tiling.layout import create_level

if TYPE_CHECKING:
    from imkerutils.tiling.journal import Journal, JournalState
    from imkerutils.tiling.rawstore import RawStore

__all__ = ["finish", "rebase", "roll_back"]


def rebase(
    raw: RawStore, journal: Journal, state: JournalState, frame: Frame, levels: int, channels: int
) -> JournalState:
    """Move ``levels`` levels of the canvas onto ``frame`` and commit; returns the committed state.

    The caller holds the write lock, has recovered ``state``, and calls :func:`finish` after rewriting
    the root metadata.
    """
    old = state.frame
    pending = replace(state, pending={"op": "rebase", "frame": frame.to_dict(), "levels": levels})
    journal.write_state(pending)
    for level in range(levels):
        create_level(raw.store, frame, level, frame.shape(level, state.bounds), channels)
        for key in raw.list_prefix(f"{old.path(level)}/c/"):
            raw.copy(key, frame.chunk_key(level, *old.tile_of_key(level, key)))
    done = replace(state, frame=frame, pending=None, retired=tuple(old.path(level) for level in range(levels)))
    journal.write_state(done)
    return done


def roll_back(raw: RawStore, journal: Journal, state: JournalState) -> JournalState:
    """Undo a rebase a killed writer left pending: delete the new arrays."""
    assert state.pending is not None
    assert state.pending.get("op") == "rebase"
    frame = Frame.from_dict(state.pending["frame"])
    for level in range(int(state.pending.get("levels", 1))):
        raw.delete_prefix(f"{frame.path(level)}/")
    back = replace(state, pending=None)
    journal.write_state(back)
    return back


def finish(raw: RawStore, journal: Journal, state: JournalState) -> JournalState:
    """Delete the arrays a committed rebase retired."""
    if not state.retired:
        return state
    for path in state.retired:
        raw.delete_prefix(f"{path}/")
    done = replace(state, retired=())
    journal.write_state(done)
    return done
