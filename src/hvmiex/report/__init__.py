"""Renderers of a :class:`hvmiex.replay.ReplayResult`: text (rich tables), JSON and a self-contained HTML page."""

from hvmiex.report.html import render_html
from hvmiex.report.json_report import render_json
from hvmiex.report.text import render_text, text_renderables

__all__ = ["render_html", "render_json", "render_text", "text_renderables"]
