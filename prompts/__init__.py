"""Prompt templates: one YAML file per template, grouped in sets; see :mod:`prompts.loader`."""

from prompts.loader import (
    BASE_SET,
    DEFAULT_ROOT,
    MessageTemplate,
    PromptError,
    PromptLibrary,
    PromptTemplate,
    TemplateInfo,
    Variable,
    default_library,
    load_template,
    parse_template,
)

__all__ = [
    "BASE_SET",
    "DEFAULT_ROOT",
    "MessageTemplate",
    "PromptError",
    "PromptLibrary",
    "PromptTemplate",
    "TemplateInfo",
    "Variable",
    "default_library",
    "load_template",
    "parse_template",
]
