"""Comparison reports: one self-contained HTML file (inline SVG charts), a Markdown twin, and
PDF through WeasyPrint when installed.

``build_report`` computes the content once as data (``Report``); ``render_html`` /
``render_markdown`` render it with the jinja2 templates in ``templates/``; ``write_report``
writes it atomically in the format its suffix names. Reports are deterministic: the same
scenario, catalog and seed give byte-identical files (no clock; the facts name the accelsim
version and the price book's date).
"""

from __future__ import annotations

from accelsim.lazy import lazy_attributes

# Every name imports on first use (``importlib``, as ``accelsim/__init__.py`` does): a command
# that only prints a launch recipe (``accelsim.report.recipes``: ``run --emit``) imports this
# package but not the report builder and the questions it asks (issue 18's start-up targets).
_LAZY = {
    "build_report": "accelsim.report.build",
    "Chart": "accelsim.report.model",
    "Report": "accelsim.report.model",
    "Section": "accelsim.report.model",
    "Table": "accelsim.report.model",
    "FORMATS": "accelsim.report.render",
    "check_output": "accelsim.report.render",
    "render_html": "accelsim.report.render",
    "render_markdown": "accelsim.report.render",
    "write_report": "accelsim.report.render",
}
__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes("accelsim.report", _LAZY)
