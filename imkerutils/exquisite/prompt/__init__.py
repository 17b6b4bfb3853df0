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
