"""The step journal: atomic, undoable writes to a canvas.

Every change to a canvas is a *step*.  A step names, up front, every store key
it may write (chunks of every level, manifest entries).  Before the first byte
changes, the journal snapshots those keys, then marks the step *pending* in
``_journal/state.json``; after the writes it commits by rewriting that one file
(an atomic replace).  The result, under ``kill -9`` at any moment:

- killed before the pending mark: nothing changed;
- killed while pending: opening the canvas restores the snapshots (before);
- killed after the commit: the step is complete (after).

Undo restores a step's snapshot ("before"), first saving the current bytes
("after") so redo can put them back.  Both are idempotent, so an interrupted
undo or redo is simply finished when the canvas is next opened for writing.

Layout under the canvas root::

    _journal/state.json                 head, top, bounds, pending
    _journal/steps/<n>/meta.json        kind, keys, bounds before/after, info
    _journal/steps/<n>/before/<key>     the key's bytes before step n (absent: key absent)
    _journal/steps/<n>/after/<key>      the key's bytes after step n (written on undo)
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from imkerutils.errors import (
    CanvasCorruptError,
    CanvasLockedError,
    NothingToRedoError,
    NothingToUndoError,
)
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.window import Window

__all__ = ["Journal", "JournalState", "StepMeta"]

JOURNAL_FORMAT = "imkerutils.journal/1"
STATE_KEY = "_journal/state.json"


def _window_or_none(data: dict[str, int] | None) -> Window | None:
    return None if data is None else Window.from_dict(data)


@dataclass(frozen=True, slots=True)
class JournalState:
    """What is committed: the head step, the highest redoable step, the bounds."""

    head: int = 0
    top: int = 0
    bounds: Window = Window(0, 0, 0, 0)
    token: str = "empty"  # changes with every commit; names lazy graphs
    pending: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "head": self.head,
            "top": self.top,
            "bounds": self.bounds.to_dict(),
            "token": self.token,
            "pending": self.pending,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalState:
        if data.get("format") != JOURNAL_FORMAT:
            raise CanvasCorruptError(f"unknown journal format {data.get('format')!r}")
        return cls(
            head=int(data["head"]),
            top=int(data["top"]),
            bounds=Window.from_dict(data["bounds"]),
            token=str(data["token"]),
            pending=data.get("pending"),
        )


@dataclass(frozen=True, slots=True)
class StepMeta:
    """One step as the journal keeps it."""

    number: int
    id: str
    kind: str
    keys: tuple[str, ...]
    bounds_before: Window
    bounds_after: Window
    created_at: str
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "id": self.id,
            "kind": self.kind,
            "keys": list(self.keys),
            "bounds_before": self.bounds_before.to_dict(),
            "bounds_after": self.bounds_after.to_dict(),
            "created_at": self.created_at,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepMeta:
        return cls(
            number=int(data["number"]),
            id=str(data["id"]),
            kind=str(data["kind"]),
            keys=tuple(data["keys"]),
            bounds_before=Window.from_dict(data["bounds_before"]),
            bounds_after=Window.from_dict(data["bounds_after"]),
            created_at=str(data["created_at"]),
            info=dict(data.get("info") or {}),
        )


def _step_prefix(n: int) -> str:
    return f"_journal/steps/{n:08d}/"


class Journal:
    """Reads and writes the journal of one canvas through a :class:`RawStore`."""

    def __init__(self, raw: RawStore) -> None:
        self.raw = raw

    # -- state -------------------------------------------------------------
    def read_state(self) -> JournalState:
        data = self.raw.get(STATE_KEY)
        if data is None:
            raise CanvasCorruptError("the canvas journal (_journal/state.json) is missing")
        try:
            return JournalState.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise CanvasCorruptError(f"the canvas journal (_journal/state.json) is unreadable: {exc}") from None

    def write_state(self, state: JournalState) -> None:
        self.raw.put(STATE_KEY, json.dumps(state.to_dict(), sort_keys=True).encode())

    def read_meta(self, n: int) -> StepMeta:
        data = self.raw.get(_step_prefix(n) + "meta.json")
        if data is None:
            raise CanvasCorruptError(f"journal entry for step {n} is missing")
        try:
            return StepMeta.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise CanvasCorruptError(f"journal entry for step {n} is unreadable: {exc}") from None

    def steps(self, state: JournalState) -> list[StepMeta]:
        """Committed steps, oldest first."""
        return [self.read_meta(n) for n in range(1, state.head + 1)]

    # -- locking -----------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the canvas's write lock (local stores; other stores: one writer by convention)."""
        root = self.raw.local_root
        if root is None:
            yield
            return
        import fcntl

        path = root / "_journal" / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CanvasLockedError(
                    f"another process is writing to the canvas at {root}; try again when it has finished"
                ) from None
            yield
        finally:
            os.close(fd)

    # -- the step protocol ---------------------------------------------------
    def begin(
        self, state: JournalState, kind: str, keys: Sequence[str], bounds_after: Window, info: dict[str, Any]
    ) -> tuple[StepMeta, JournalState]:
        """Snapshot ``keys`` and mark a new step pending; returns its meta and the pending state."""
        n = state.head + 1
        for stale in range(n, max(state.top, n) + 1):
            self.raw.delete_prefix(_step_prefix(stale))
        prefix = _step_prefix(n)
        for key in keys:
            self.raw.copy(key, prefix + "before/" + key)
        meta = StepMeta(
            number=n,
            id=uuid.uuid4().hex,
            kind=kind,
            keys=tuple(keys),
            bounds_before=state.bounds,
            bounds_after=bounds_after,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            info=info,
        )
        self.raw.put(prefix + "meta.json", json.dumps(meta.to_dict(), sort_keys=True).encode())
        pending = replace(state, pending={"op": "apply", "step": n})
        self.write_state(pending)
        return meta, pending

    def commit(self, state: JournalState, meta: StepMeta) -> JournalState:
        done = JournalState(
            head=meta.number, top=meta.number, bounds=meta.bounds_after, token=meta.id, pending=None
        )
        self.write_state(done)
        return done

    def _restore(self, n: int, which: str, keys: Sequence[str]) -> None:
        prefix = _step_prefix(n) + which + "/"
        for key in keys:
            self.raw.copy(prefix + key, key)

    def rollback(self, state: JournalState) -> JournalState:
        """Undo a pending, uncommitted step (restoring its snapshots)."""
        assert state.pending is not None and state.pending["op"] == "apply"
        n = int(state.pending["step"])
        meta = self.read_meta(n)
        self._restore(n, "before", meta.keys)
        back = replace(state, pending=None)
        self.write_state(back)
        self.raw.delete_prefix(_step_prefix(n))
        return back

    def undo(self, state: JournalState) -> tuple[StepMeta, JournalState]:
        if state.head == 0:
            raise NothingToUndoError("nothing to undo: the canvas has no committed step")
        meta = self.read_meta(state.head)
        prefix = _step_prefix(meta.number)
        if state.pending is None:  # first time: keep "after" for redo
            for key in meta.keys:
                self.raw.copy(key, prefix + "after/" + key)
            state = replace(state, pending={"op": "undo", "step": meta.number})
            self.write_state(state)
        self._restore(meta.number, "before", meta.keys)
        prev_token = self.read_meta(meta.number - 1).id if meta.number > 1 else "empty"
        done = JournalState(
            head=meta.number - 1, top=state.top, bounds=meta.bounds_before, token=prev_token, pending=None
        )
        self.write_state(done)
        return meta, done

    def redo(self, state: JournalState) -> tuple[StepMeta, JournalState]:
        if state.head >= state.top:
            raise NothingToRedoError("nothing to redo: no undone step is waiting")
        meta = self.read_meta(state.head + 1)
        if state.pending is None:
            state = replace(state, pending={"op": "redo", "step": meta.number})
            self.write_state(state)
        self._restore(meta.number, "after", meta.keys)
        done = JournalState(
            head=meta.number, top=state.top, bounds=meta.bounds_after, token=meta.id, pending=None
        )
        self.write_state(done)
        return meta, done

    def recover(self, state: JournalState) -> JournalState:
        """Finish or roll back whatever a killed writer left pending."""
        if state.pending is None:
            return state
        op = state.pending.get("op")
        if op == "apply":
            return self.rollback(state)
        if op == "undo":
            return self.undo(state)[1]
        if op == "redo":
            return self.redo(state)[1]
        raise CanvasCorruptError(f"unknown pending journal operation {op!r}")
