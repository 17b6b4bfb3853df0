"""Versioned prompt templates and the one function that renders them.

A template turns the user's prompt and the growth direction into the full text
sent to the image model.  Templates are values identified by ``name/version``;
a published version never changes (add a new version instead), so a step record
that names ``extend/1`` can always be re-rendered byte for byte.

>>> rendered = render(get_template("extend"), "a red barn", "left")
>>> rendered.template_name, rendered.template_version
('extend', 1)
>>> "to the left" in rendered.text and rendered.text.endswith("a red barn")
True
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from string import Template

from imkerutils.errors import InvalidTemplateError, UnknownTemplateError
from imkerutils.exquisite.geometry.direction import Direction

__all__ = [
    "DEFAULT_TEMPLATE",
    "PLACEHOLDERS",
    "PromptTemplate",
    "RenderedPrompt",
    "available_templates",
    "get_template",
    "normalize_user_prompt",
    "prompt_sha256",
    "render",
]


#: Placeholders a template's ``text`` may use (``string.Template`` syntax, ``$name``).
PLACEHOLDERS: frozenset[str] = frozenset({"user_prompt", "direction", "toward", "kept_half", "new_half"})

# How each direction reads in a prompt, seen from the 1024x1024 reference tile:
# the band (real pixels) sits on the kept half, the model paints the new half.
_DIRECTION_WORDS: dict[Direction, dict[str, str]] = {
    Direction.RIGHT: {"toward": "to the right", "kept_half": "left half", "new_half": "right half"},
    Direction.LEFT: {"toward": "to the left", "kept_half": "right half", "new_half": "left half"},
    Direction.UP: {"toward": "upward", "kept_half": "bottom half", "new_half": "top half"},
    Direction.DOWN: {"toward": "downward", "kept_half": "top half", "new_half": "bottom half"},
}

_NAME = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """One published version of a prompt template.

    ``text`` uses ``$placeholder`` fields from :data:`PLACEHOLDERS` and must
    contain ``$user_prompt``.  ``empty_prompt`` is substituted for an empty
    user prompt (a neutral "continue the scene" instruction).
    """

    name: str
    version: int
    text: str
    empty_prompt: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise InvalidTemplateError(
                f"template name must be lowercase letters, digits, '-' or '_' starting with a letter; got {self.name!r}"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidTemplateError(f"template version must be an integer >= 1; got {self.version!r}")
        parsed = Template(self.text)
        if not parsed.is_valid():
            raise InvalidTemplateError(f"template {self.id} has a malformed '$' placeholder")
        used = set(parsed.get_identifiers())
        unknown = used - PLACEHOLDERS
        if unknown:
            raise InvalidTemplateError(
                f"template {self.id} uses unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(PLACEHOLDERS)}"
            )
        if "user_prompt" not in used:
            raise InvalidTemplateError(f"template {self.id} must contain $user_prompt")

    @property
    def id(self) -> str:
        """``"name/version"``, e.g. ``"extend/1"``."""
        return f"{self.name}/{self.version}"

    def render(self, user_prompt: str, direction: Direction | str) -> RenderedPrompt:
        """Alias of :func:`render`."""
        return render(self, user_prompt, direction)


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """The exact text sent to the model, with what produced it and its hash.

    ``sha256`` covers the template name and version as well as ``text``
    (see :func:`prompt_sha256`); ``user_prompt`` is the normalised user input.
    """

    text: str
    template_name: str
    template_version: int
    sha256: str
    user_prompt: str = ""


def normalize_user_prompt(user_prompt: str) -> str:
    r"""Unicode NFC, ``\r\n`` and ``\r`` to ``\n``, surrounding whitespace stripped.

    Prompts that look the same give the same text and the same hash.

    >>> normalize_user_prompt("  caf\u0065\u0301\r\nat dusk ")
    'café\nat dusk'
    """
    if not isinstance(user_prompt, str):
        raise TypeError(f"user prompt must be a str, got {type(user_prompt).__name__}")
    text = unicodedata.normalize("NFC", user_prompt)
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def prompt_sha256(template_name: str, template_version: int, text: str) -> str:
    r"""SHA-256 (hex) of ``f"{template_name}/{template_version}\n{text}"`` in UTF-8.

    Template names and versions hold no newline, so the encoding is unambiguous.
    """
    payload = f"{template_name}/{template_version}\n{text}".encode()
    return hashlib.sha256(payload).hexdigest()


def render(template: PromptTemplate, user_prompt: str, direction: Direction | str) -> RenderedPrompt:
    """Fill ``template`` for ``direction`` with the (normalised) ``user_prompt``.

    An empty prompt is replaced by the template's ``empty_prompt``.  The user's
    text is inserted verbatim: ``$`` or ``{}`` in it are not placeholders.
    """
    d = Direction.parse(direction)
    user = normalize_user_prompt(user_prompt)
    fields = dict(_DIRECTION_WORDS[d], direction=d.value, user_prompt=user or template.empty_prompt)
    text = Template(template.text).substitute(fields)
    return RenderedPrompt(
        text=text,
        template_name=template.name,
        template_version=template.version,
        sha256=prompt_sha256(template.name, template.version, text),
        user_prompt=user,
    )


# --- published templates: never edit a published version, add a new one ----------------------------

EXTEND_V1 = PromptTemplate(
    name="extend",
    version=1,
    text=(
        "Boundary-constrained edit. This square image is one tile of a much larger picture that is "
        "being extended $toward. The $kept_half holds real pixels of that picture and must stay exactly "
        "as it is: do not redraw, move, crop or rescale it. Paint only the masked $new_half, continuing "
        "the scene $toward so that content, style, lighting, colour, perspective and scale run "
        "continuously across the seam and the two halves read as one image with no visible join. "
        "Do not add borders, frames, vignettes, text, captions, signatures or watermarks. "
        "Content for the new region: $user_prompt"
    ),
    empty_prompt=(
        "whatever continues the existing scene most naturally, introducing nothing the visible "
        "content does not suggest."
    ),
)

#: The template used when none is named.
DEFAULT_TEMPLATE = EXTEND_V1


def _build_registry(*templates: PromptTemplate) -> dict[str, dict[int, PromptTemplate]]:
    registry: dict[str, dict[int, PromptTemplate]] = {}
    for t in templates:
        versions = registry.setdefault(t.name, {})
        if t.version in versions:
            raise InvalidTemplateError(f"template {t.id} is defined twice")
        versions[t.version] = t
    return registry


_REGISTRY = _build_registry(EXTEND_V1)


def available_templates() -> list[str]:
    """Every registered template id (``"name/version"``), sorted."""
    return [f"{name}/{v}" for name in sorted(_REGISTRY) for v in sorted(_REGISTRY[name])]


def get_template(name: str = "extend", version: int | None = None) -> PromptTemplate:
    """Return the template ``name`` at ``version`` (the latest when ``version`` is None).

    >>> get_template().id
    'extend/1'
    """
    versions = _REGISTRY.get(name)
    if versions is None:
        raise UnknownTemplateError(f"no prompt template named {name!r}; available: {', '.join(available_templates())}")
    if version is None:
        return versions[max(versions)]
    if isinstance(version, int) and not isinstance(version, bool) and version in versions:
        return versions[version]
    raise UnknownTemplateError(
        f"prompt template {name!r} has no version {version!r}; "
        f"available versions: {', '.join(str(v) for v in sorted(versions))}"
    )
