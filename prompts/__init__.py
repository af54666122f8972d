"""Prompt templates: one YAML file per template, grouped in sets.

:mod:`prompts.loader` holds the library of sets (versions, hot reload, saving edits),
:mod:`prompts.template_file` reads and checks one file, :mod:`prompts.template` renders it, and
:mod:`prompts.phrases` holds the phrase books of the explanations.
"""

from prompts.loader import DEFAULT_ROOT, PromptLibrary, TemplateInfo, default_library
from prompts.template import BASE_SET, MessageTemplate, PromptError, PromptTemplate, Variable
from prompts.template_file import load_template, parse_template

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
