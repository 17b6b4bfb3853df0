"""Prompt templates, their versions and hashes (pure: no I/O)."""

from imkerutils.exquisite.prompt.templates import (
    DEFAULT_TEMPLATE,
    PLACEHOLDERS,
    PromptTemplate,
    RenderedPrompt,
    available_templates,
    get_template,
    normalize_user_prompt,
    prompt_sha256,
    render,
)

# The package re-exports templates.py's public names: the same list as its __all__, by design.
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
