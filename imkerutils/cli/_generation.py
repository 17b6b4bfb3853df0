"""What ``grow`` and ``fill`` share: generator options, dry runs, staging, and cancelling on a signal."""

from __future__ import annotations

import contextlib
import inspect
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

__all__ = [
    "EXIT_SIGNAL",
    "add_generator_options",
    "add_plan_options",
    "cancelled_exit",
    "make_generator",
    "make_settings",
    "on_signals",
    "print_estimate",
    "print_staged",
]

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal's number, as shells report it


def add_generator_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", default="", help="what the new pixels should show")
    p.add_argument("--generator", "-g", default="local", help="local (offline, default), openai, mock, or a plug-in")
    p.add_argument(
        "--model",
        help="model id for the openai generator (default gpt-image-2.6-sunburst; gpt-image-1 was shut down "
        "on 2026-10-23)",
    )
    p.add_argument("--quality", help="quality for the openai generator (low, medium, high)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0); each step derives its own")
    p.add_argument("--seam", default="exact", help="seam strategy: exact (default) or feather")
    p.add_argument(
        "--candidates",
        type=int,
        default=1,
        help="draw N candidates per generator tile and keep the best seam; with --stage: N candidates of the "
        "whole region (run seeds SEED, SEED+1, ...) to choose from",
    )
    p.add_argument("--budget-usd", type=float, help="refuse a step that could take the total past this")
    p.add_argument("--no-artifacts", action="store_true", help="do not keep the PNG artifacts of each generator tile")
    p.add_argument(
        "--workers", type=int, help="generator tiles generated at once on this machine (default: the generator's)"
    )


def add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (generator tiles, generator calls, worst-case cost, new bounds) and stop: "
        "no generator call, nothing written",
    )
    p.add_argument(
        "--stage",
        action="store_true",
        help="generate --candidates N candidates of the region and stage them without committing "
        "(see `imkerutils staged`, `accept`, `discard`)",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=1024,
        help="generator tile size in px (default 1024, what the openai generator takes)",
    )


def make_generator(args: argparse.Namespace) -> Any:
    from imkerutils.exquisite.api.registry import get_generator

    config = {k: v for k, v in (("model", args.model), ("quality", args.quality)) if v is not None}
    _check_options(args.generator, config)
    return get_generator(args.generator, **config)


def _check_options(name: str, config: dict[str, str]) -> None:
    """Refuse ``--model`` / ``--quality`` for a generator that takes no such parameter (one line, not a TypeError)."""
    from imkerutils.errors import InvalidGeneratorParamsError
    from imkerutils.exquisite.api.registry import generator_class

    if not config:
        return
    try:
        inspect.signature(generator_class(name)).bind_partial(**config)
    except TypeError:
        options = " and ".join(f"--{k}" for k in config)
        raise InvalidGeneratorParamsError(
            f"the {name} generator takes no {options} (only generators with such a setting do, e.g. openai)"
        ) from None
    except ValueError:  # no signature to inspect: let the generator decide
        return


def make_settings(args: argparse.Namespace, *, stage: bool = False) -> Any:
    from imkerutils.exquisite.pipeline import GrowSettings

    return GrowSettings(
        prompt=args.prompt,
        seed=args.seed,
        seam=args.seam,
        candidates=1 if stage else args.candidates,
        save_artifacts=not args.no_artifacts,
        workers=args.workers,
        tile=getattr(args, "tile", 1024),
        worker_timeout=getattr(args, "worker_timeout", 300.0),
    )


def print_estimate(estimate: Any, canvas: Any, budget_usd: float | None) -> None:
    from imkerutils.exquisite.pipeline import canvas_spent_usd
    from imkerutils.exquisite.state.budget import Budget, format_usd

    print("dry run: nothing generated, nothing written")
    for line in estimate.lines():
        print(line)
    if budget_usd is not None:
        budget = Budget(budget_usd, canvas_spent_usd(canvas))
        verdict = "fits" if budget.fits(estimate.worst_case_usd) else "would be refused: it exceeds"
        print(
            f"budget: the worst case {verdict} the {format_usd(budget_usd)} budget "
            f"({format_usd(budget.remaining_usd or 0.0)} left)"
        )


def print_staged(proposal: Any, canvas: Any) -> None:
    print(
        f"staged proposal {proposal.id}: {len(proposal.candidates)} candidate(s) of "
        f"{len(proposal.plan.tiles)} tile(s); nothing committed"
    )
    for c in proposal.summary()["candidates"]:
        seam = c["seam_scores"].get("seam_excess")
        cost = "unknown" if c["cost_usd"] is None else f"${c['cost_usd']:.4f}"
        print(
            f"  candidate {c['candidate']}: seed {c['seed']}, seam excess "
            f"{'n/a' if seam is None else f'{seam:.2f}'}, cost {cost}"
        )
    print(
        f"choose with: imkerutils accept {canvas.location} {proposal.id} --candidate K "
        f"(preview: imkerutils staged {canvas.location} {proposal.id} --preview OUT.png)"
    )


@contextlib.contextmanager
def on_signals(cancel: Any) -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM set ``cancel`` (the step stops before its next generator call).

    Yields the list of signals received.  A second signal restores Python's usual handling (a second
    Ctrl-C interrupts at once; the journal still keeps the canvas whole).
    """
    received: list[int] = []
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        cancel.set()
        for s, h in previous.items():
            signal.signal(s, h)

    for sig in EXIT_SIGNAL:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def cancelled_exit(prog: str, received: list[int], committed: int = 0) -> int:
    """One line saying nothing was written; the exit status a shell expects for the signal.

    ``committed``: steps of this run committed before the cancelled one (they stay).
    """
    signum = received[0] if received else signal.SIGINT
    earlier = f" (the {committed} step(s) committed before it stay)" if committed else ""
    print(
        f"{prog}: cancelled by {signal.Signals(signum).name}: nothing was written for the running step{earlier}"
        if committed
        else f"{prog}: cancelled by {signal.Signals(signum).name}: nothing was written",
        file=sys.stderr,
    )
    return EXIT_SIGNAL.get(signal.Signals(signum), 130)


def tile_bar(args: argparse.Namespace, total: int, desc: str) -> Any:
    """Return the progress bar of a generating command: ``total`` tiles on stderr (off with ``--quiet``)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="tile", file=sys.stderr, disable=True if args.quiet else None, desc=desc)


def note_late_signals(received: list[int]) -> None:
    """Say on stderr that signals came while a step was being committed (it completed; undo takes it back)."""
    if received:
        print(
            f"imkerutils: {len(received)} signal(s) arrived while a step was being committed; it is complete "
            "(undo it with `imkerutils undo`)",
            file=sys.stderr,
        )
