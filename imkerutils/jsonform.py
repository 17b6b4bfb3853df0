"""The JSON form of a record: its dataclass fields, in order, each in its own JSON form.

One rule serves every record whose persisted form is its fields (journal state and step metadata, fill
plans and their tiles, staged proposals, tile records), so a record's ``to_dict`` is one line and a new
field cannot be left out of it. Readers stay per record (``from_dict``): each checks its own input.

>>> from dataclasses import dataclass
>>> from imkerutils.tiling.window import Window
>>> @dataclass
... class Example:
...     where: Window
...     keys: tuple[tuple[int, int], ...]
>>> fields_form(Example(Window(0, 1, 2, 3), ((4, 5),)), format="example/1")
{'format': 'example/1', 'where': {'row_off': 0, 'col_off': 1, 'height': 2, 'width': 3}, 'keys': [[4, 5]]}
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["fields_form", "json_form"]


def json_form(value: object) -> Any:
    """Return ``value`` as JSON-ready data: a record by its ``to_dict`` (or its fields), sequences as lists.

    Mappings and sequences are copied, so the form shares nothing mutable with ``value``.
    """
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return fields_form(value)
    if isinstance(value, tuple | list):
        return [json_form(v) for v in value]
    if isinstance(value, dict):
        return {k: json_form(v) for k, v in value.items()}
    return value


def fields_form(record: Any, **first: Any) -> dict[str, Any]:
    """Return ``first`` (e.g. a format tag), then every field of the dataclass ``record`` in its JSON form."""
    return {**first, **{f.name: json_form(getattr(record, f.name)) for f in dataclasses.fields(record)}}
