"""Strategy code rendered as highlighted HTML (Pygments, escaped: the code is user input)."""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

_FORMATTER = HtmlFormatter(cssclass="code-highlight", linenos=False, nowrap=False)


def highlighted_code(code: str) -> SafeString:
    # Pygments escapes every token it emits, so the result is safe to mark as such.
    return mark_safe(highlight(code or "", PythonLexer(), _FORMATTER))  # noqa: S308


def highlight_css() -> str:
    return _FORMATTER.get_style_defs(".code-highlight")
