"""The one Jinja environment every page is rendered from.

Templates live in ``templates/`` beside this module. Each is compiled once per process and kept
(Jinja's loader cache): compiling ``firm_report.html.j2`` takes longer than rendering it, and a
round renders it once per firm. Autoescaping is on for every template, so text from inputs
(firm names, products, evaluator notes) is always HTML-escaped.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, Template

TEMPLATES = Path(__file__).parent / "templates"
ENVIRONMENT = Environment(loader=FileSystemLoader(TEMPLATES, encoding="utf-8"), autoescape=True, auto_reload=False)


def template(name: str) -> Template:
    """The compiled template ``templates/<name>``; raises ``jinja2.TemplateNotFound`` for an unknown name."""
    return ENVIRONMENT.get_template(name)


def render(name: str, **context) -> str:
    """``templates/<name>`` rendered with ``context`` (autoescaped HTML text)."""
    return template(name).render(**context)
