"""Prompt templates, their versions and hashes (pure: no I/O)."""

from imkerutils.exquisite.prompt.templates import (
    DEFAULT_TEMPLATE,
    PLACEHOLDERS,
    InvalidTemplateError,
    PromptTemplate,
    RenderedPrompt,
    UnknownTemplateError,
    available_templates,
    get_template,
    normalize_user_prompt,
    prompt_sha256,
    render,
)

__all__ = [
    "DEFAULT_TEMPLATE",
    "InvalidTemplateError",
    "PLACEHOLDERS",
    "PromptTemplate",
    "RenderedPrompt",
    "UnknownTemplateError",
    "available_templates",
    "get_template",
    "normalize_user_prompt",
    "prompt_sha256",
    "render",
]
