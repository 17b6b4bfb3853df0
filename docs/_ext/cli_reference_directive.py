"""``cli-reference``: a directive that puts the generated CLI reference (``docs/_scripts/cli_reference.py``) here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cli_reference  # docs/_scripts, put on sys.path by conf.py
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

if TYPE_CHECKING:
    from sphinx.application import Sphinx


class CliReference(SphinxDirective):
    """Every command line, one section each, from the parsers the commands use."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(cli_reference.__file__)
        container = nodes.section()
        container.document = self.state.document
        lines = StringList(cli_reference.render_rst().splitlines(), source="cli_reference.py")
        nested_parse_with_titles(self.state, lines, container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("cli-reference", CliReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
