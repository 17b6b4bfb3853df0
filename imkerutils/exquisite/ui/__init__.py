"""The Exquisite browser UI: a deep-zoom viewer and controls over the pipeline, served by a thin ASGI app.

Start it with ``imkerutils ui PATH`` or ``python -m imkerutils.exquisite.ui PATH``.
Modules: :mod:`.server` (the HTTP API), :mod:`.jobs` (the canvas session, grow
jobs and the published view), :mod:`.deepzoom` (viewer tiles as pyramid
chunks), :mod:`.requests` (request bodies), :mod:`.security` (host, origin and
header guards), :mod:`.messages` (errors in plain words), :mod:`.serve`
(uvicorn).  The page itself is ``static/``.  Importing this package loads nothing.
"""
