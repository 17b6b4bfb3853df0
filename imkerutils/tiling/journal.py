"""The step journal: atomic, undoable writes to a canvas.

Every change to a canvas is a *step*.  A step names, up front, every key it
may write: level-0 tiles by their world name (``tile/<i>.<j>``, resolved to a
chunk key through the state's :class:`~imkerutils.tiling.frame.Frame` whenever
bytes move, so entries stay valid across a rebase) and manifest entries.  Before the first byte
changes, the journal snapshots those keys, then marks the step *pending* in
``_journal/state.json``; after the writes it commits by rewriting that one file
(an atomic replace).  The result, under ``kill -9`` at any moment:

- killed before the pending mark: nothing changed;
- killed while pending: opening the canvas restores the snapshots (before);
- killed after the commit: the step is complete (after).

Undo restores a step's snapshot ("before"), first saving the current bytes
("after") so redo can put them back.  Both are idempotent, so an interrupted
undo or redo is simply finished when the canvas is next opened for writing.

Every step's entry lives in a folder named by its own random id, and
``state.json`` lists the ids of steps 1..top in order.  A new step is staged
under its new id while the undone (redoable) entries stay untouched; only
the commit drops them from the list (and then deletes their folders), so a
step that fails or is killed leaves the redo history exactly as it was.

Layout under the canvas root::

    _journal/state.json                 head, top, step ids, bounds, frame, pending
    _journal/entries/<id>/meta.json       kind, keys, bounds before/after, info
    _journal/entries/<id>/before/<key>    the key's bytes before the step (absent: key absent)
    _journal/entries/<id>/after/<key>     the key's bytes after the step (written on undo)
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from imkerutils.errors import (
    CanvasCorruptError,
    CanvasLockedError,
    InvalidStepIdError,
    NothingToRedoError,
    NothingToUndoError,
)
from imkerutils.jsonform import fields_form
from imkerutils.tiling.frame import TILE_KEY_PREFIX, Frame, tile_of_tile_key
from imkerutils.tiling.sealed import seal, unseal
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from imkerutils.tiling.rawstore import RawStore

__all__ = ["Journal", "JournalState", "StepMeta", "check_step_id", "physical_key"]

_STEP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # a folder name on every store


def check_step_id(step_id: object) -> str:
    """Return ``step_id`` when it can name a journal entry (a safe folder name), else raise :class:`InvalidStepIdError`.

    >>> check_step_id("20261206-right-0123456789ab")
    '20261206-right-0123456789ab'
    """
    if not isinstance(step_id, str) or not _STEP_ID.fullmatch(step_id):
        raise InvalidStepIdError(
            f"step id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit; got {step_id!r}"
        )
    return step_id


JOURNAL_FORMAT = "imkerutils.journal/3"  # /3: tile keys in world tiles, the frame in state.json
LEGACY_JOURNAL_FORMAT = "imkerutils.journal/2"
STATE_KEY = "_journal/state.json"
WRITING_KEY = "_journal/writing"  # exists while a writer holds the lock: left behind by one that died
ENTRIES_PREFIX = "_journal/entries/"  # format 1 canvases kept their entries in _journal/steps/


def physical_key(key: str, frame: Frame) -> str:
    """Return the store key behind journal key ``key`` in ``frame`` (tile keys become level-0 chunk keys)."""
    if key.startswith(TILE_KEY_PREFIX):
        return frame.chunk_key(0, *tile_of_tile_key(key))
    return key


@dataclass(frozen=True, slots=True)
class JournalState:
    """What is committed: the head step, the highest redoable step, the bounds."""

    head: int = 0
    top: int = 0
    bounds: Window = Window(0, 0, 0, 0)
    token: str = "empty"  # changes with every commit; names lazy graphs
    pending: dict[str, Any] | None = None
    steps: tuple[str, ...] = ()  # ids of steps 1..top
    frame: Frame = Frame(1024, (0, 0))
    retired: tuple[str, ...] = ()  # array paths a committed rebase left to delete

    def step_id(self, n: int) -> str:
        """Return the id of committed (or redoable) step ``n`` (1-based)."""
        if not 1 <= n <= len(self.steps):
            raise CanvasCorruptError(f"the journal has no step {n} (it lists {len(self.steps)})")
        return self.steps[n - 1]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return fields_form(self, format=JOURNAL_FORMAT)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalState:
        """Rebuild from the output of :meth:`to_dict`."""
        if not isinstance(data, dict) or data.get("format") != JOURNAL_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise CanvasCorruptError(f"unknown journal format {found!r}")
        pending = data.get("pending")
        if pending is not None and not (
            isinstance(pending, dict)
            and (
                (isinstance(pending.get("step"), int) and isinstance(pending.get("id"), str))
                or (pending.get("op") == "rebase" and isinstance(pending.get("frame"), dict))
            )
        ):
            raise CanvasCorruptError(f"malformed pending journal operation {pending!r}")
        state = cls(
            head=int(data["head"]),
            top=int(data["top"]),
            bounds=Window.from_dict(data["bounds"]),
            token=str(data["token"]),
            pending=data.get("pending"),
            steps=tuple(str(i) for i in data.get("steps", ())),
            frame=Frame.from_dict(data["frame"]),
            retired=tuple(str(p) for p in data.get("retired", ())),
        )
        if not 0 <= state.head <= state.top == len(state.steps):
            raise CanvasCorruptError(
                f"the journal state is inconsistent: head {state.head}, top {state.top}, "
                f"{len(state.steps)} steps listed"
            )
        return state


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
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return fields_form(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepMeta:
        """Rebuild from the output of :meth:`to_dict`."""
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


def _step_prefix(step_id: str) -> str:
    return f"{ENTRIES_PREFIX}{step_id}/"


class Journal:
    """Reads and writes the journal of one canvas through a :class:`RawStore`."""

    def __init__(self, raw: RawStore) -> None:
        self.raw = raw

    # -- state -------------------------------------------------------------
    def read_state(self) -> JournalState:
        """Return the committed state (:class:`CanvasCorruptError` if it is missing or damaged)."""
        data = self.raw.get(STATE_KEY)
        if data is None:
            raise CanvasCorruptError("the canvas journal (_journal/state.json) is missing")
        try:
            return JournalState.from_dict(unseal(data, "the canvas journal (_journal/state.json)"))
        except (ValueError, KeyError, TypeError) as exc:
            raise CanvasCorruptError(f"the canvas journal (_journal/state.json) is unreadable: {exc}") from None

    def write_state(self, state: JournalState) -> None:
        """Commit ``state``: one sealed, atomic replace of ``state.json``."""
        self.raw.put(STATE_KEY, seal(state.to_dict()))

    def read_meta(self, n: int, state: JournalState | None = None) -> StepMeta:
        """Return the entry of step ``n`` as listed by ``state`` (default: the committed state)."""
        state = state if state is not None else self.read_state()
        return self._read_meta_id(state.step_id(n), n)

    def _read_meta_id(self, step_id: str, n: int) -> StepMeta:
        data = self.raw.get(_step_prefix(step_id) + "meta.json")
        if data is None:
            raise CanvasCorruptError(f"journal entry for step {n} is missing")
        try:
            return StepMeta.from_dict(unseal(data, f"journal entry for step {n}"))
        except (ValueError, KeyError, TypeError) as exc:
            raise CanvasCorruptError(f"journal entry for step {n} is unreadable: {exc}") from None

    def steps(self, state: JournalState) -> list[StepMeta]:
        """Return the committed steps, oldest first."""
        return [self.read_meta(n, state) for n in range(1, state.head + 1)]

    # -- locking -----------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the canvas's write lock (local stores; other stores: one writer by convention).

        While it is held, ``_journal/writing`` exists; a writer that dies leaves it behind, which tells the
        next writable open to look for what it left (:meth:`interrupted`).
        """
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
            marker = root / WRITING_KEY
            marker.touch()
            try:
                yield
            finally:
                marker.unlink(missing_ok=True)  # only a writer that dies (kill -9, power) leaves it behind
        finally:
            os.close(fd)

    def interrupted(self) -> bool:
        """Whether a writer was stopped while it held the lock (or one holds it now)."""
        return self.raw.local_root is not None and (self.raw.local_root / WRITING_KEY).exists()

    # -- the step protocol ---------------------------------------------------
    def begin(
        self,
        state: JournalState,
        kind: str,
        keys: Sequence[str],
        bounds_after: Window,
        info: dict[str, Any],
        step_id: str | None = None,
    ) -> tuple[StepMeta, JournalState]:
        """Snapshot ``keys`` under ``step_id`` (default: a new one) and mark the step pending.

        Returns the step's meta and that state.  The undone steps' entries are left alone until
        :meth:`commit`, so no step, done or undone, may already have the id.
        """
        n = state.head + 1
        if step_id is None:
            step_id = uuid.uuid4().hex
        elif check_step_id(step_id) in state.steps:
            raise InvalidStepIdError(f"step id {step_id!r} is taken by step {state.steps.index(step_id) + 1}")
        prefix = _step_prefix(step_id)
        for key in keys:
            self.raw.snapshot(physical_key(key, state.frame), prefix + "before/" + key)
        meta = StepMeta(
            number=n,
            id=step_id,
            kind=kind,
            keys=tuple(keys),
            bounds_before=state.bounds,
            bounds_after=bounds_after,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            info=info,
        )
        # A fresh entry: nothing reads it before the pending mark below names it.
        self.raw.put_fresh(prefix + "meta.json", seal(meta.to_dict()))
        pending = replace(state, pending={"op": "apply", "step": n, "id": step_id})
        self.write_state(pending)
        return meta, pending

    def commit(self, state: JournalState, meta: StepMeta) -> JournalState:
        """Make the pending step the head; the redo entries it replaces are deleted afterwards."""
        done = replace(
            state,
            head=meta.number,
            top=meta.number,
            bounds=meta.bounds_after,
            token=meta.id,
            pending=None,
            steps=(*state.steps[: meta.number - 1], meta.id),
        )
        self.write_state(done)
        for dropped in state.steps[meta.number - 1 :]:  # the undone steps a new step replaces
            self._delete_entry(dropped)
        return done

    def _delete_entry(self, step_id: str) -> None:
        """Delete a step's entry, ``meta.json`` first (a :class:`CommittedView` relies on that order)."""
        prefix = _step_prefix(step_id)
        self.raw.delete(prefix + "meta.json")
        self.raw.delete_prefix(prefix)

    def committed_sources(self, state: JournalState) -> tuple[dict[str, str], str]:
        """Where the committed bytes of each key of ``state``'s pending operation are, and its entry key.

        A pending apply or redo has not changed what is committed: the
        "before" snapshots hold it.  A pending undo has: its "after"
        snapshots (all taken before the undo was marked pending) hold it.
        """
        if state.pending is None:
            return {}, ""
        n, step_id = int(state.pending["step"]), str(state.pending["id"])
        which = "after" if state.pending.get("op") == "undo" else "before"
        prefix = _step_prefix(step_id)
        meta = self._read_meta_id(step_id, n)
        return {physical_key(key, state.frame): f"{prefix}{which}/{key}" for key in meta.keys}, prefix + "meta.json"

    def _restore(self, step_id: str, which: str, keys: Sequence[str], frame: Frame) -> None:
        prefix = _step_prefix(step_id) + which + "/"
        for key in keys:
            self.raw.copy(prefix + key, physical_key(key, frame))

    def rollback(self, state: JournalState) -> JournalState:
        """Undo a pending, uncommitted step (restoring its snapshots); the redo history is untouched."""
        assert state.pending is not None
        assert state.pending["op"] == "apply"
        n, step_id = int(state.pending["step"]), str(state.pending["id"])
        meta = self._read_meta_id(step_id, n)
        self._restore(step_id, "before", meta.keys, state.frame)
        back = replace(state, pending=None)
        self.write_state(back)
        self._delete_entry(step_id)
        return back

    def undo(self, state: JournalState) -> tuple[StepMeta, JournalState]:
        """Undo the head step (resuming a killed undo) and return its entry and the new state."""
        if state.head == 0:
            raise NothingToUndoError("nothing to undo: the canvas has no committed step")
        meta = self.read_meta(state.head, state)
        prefix = _step_prefix(meta.id)
        if state.pending is None:  # first time: keep "after" for redo
            for key in meta.keys:
                self.raw.snapshot(physical_key(key, state.frame), prefix + "after/" + key)
            state = replace(state, pending={"op": "undo", "step": meta.number, "id": meta.id})
            self.write_state(state)
        self._restore(meta.id, "before", meta.keys, state.frame)
        prev_token = state.step_id(meta.number - 1) if meta.number > 1 else "empty"
        done = replace(state, head=meta.number - 1, bounds=meta.bounds_before, token=prev_token, pending=None)
        self.write_state(done)
        return meta, done

    def redo(self, state: JournalState) -> tuple[StepMeta, JournalState]:
        """Redo the next undone step (resuming a killed redo) and return its entry and the new state."""
        if state.head >= state.top:
            raise NothingToRedoError("nothing to redo: no undone step is waiting")
        meta = self.read_meta(state.head + 1, state)
        if state.pending is None:
            state = replace(state, pending={"op": "redo", "step": meta.number, "id": meta.id})
            self.write_state(state)
        self._restore(meta.id, "after", meta.keys, state.frame)
        done = replace(state, head=meta.number, bounds=meta.bounds_after, token=meta.id, pending=None)
        self.write_state(done)
        return meta, done

    def orphans(self, state: JournalState) -> list[str]:
        """Ids of entries ``state`` does not list (a step killed before its pending mark, or half deleted)."""
        listed = {*state.steps, *([str(state.pending["id"])] if state.pending and "id" in state.pending else [])}
        return [name for name in self.raw.list_dir(ENTRIES_PREFIX) if name not in listed and name != "zarr.json"]

    def remove_orphans(self, state: JournalState) -> None:
        """Delete the entries ``state`` does not list (see :meth:`orphans`)."""
        for step_id in self.orphans(state):
            self._delete_entry(step_id)

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
