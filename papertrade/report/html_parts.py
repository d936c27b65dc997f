"""The static parts of the HTML pages: style, figure loader, page shell, tables."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

CSS: Final = """
:root { --fg:#1d2330; --muted:#6b7280; --line:#e5e7eb; --bg:#fafafa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0 auto; max-width: 1240px; padding: 16px 24px 48px; background: #fff; }
h1 { margin: 0; font-size: 24px; } h2 { margin: 28px 0 8px; font-size: 18px;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.id { color: var(--muted); margin: 2px 0 10px; font-family: ui-monospace, monospace; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; }
.facts span { color: var(--muted); margin-right: 6px; }
.status { font-weight: 600; padding: 1px 8px; border-radius: 9px; background: #eef; }
.status.finished { background:#e3f4e8; color:#17633a; }
.status.running { background:#e0f2fe; color:#075985; }
.status.crashed, .status.failed { background:#fde2e1; color:#9b1c1c; }
.status.broken { background:#f5e1fa; color:#7e1d94; }
.notes { background: #fff8e6; border: 1px solid #f4d58d; border-radius: 6px;
  padding: 8px 8px 8px 28px; }
.missing { color: #8a5a00; background: #fff8e6; padding: 10px; border-radius: 6px; }
#plotly-missing { color: #9b1c1c; background: #fde2e1; padding: 10px; border-radius: 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.kv th { font-weight: 500; color: var(--muted); }
caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 4px; }
#decisions th, #decisions td, #problems th, #problems td { text-align: left; }
#trades th:nth-child(-n+3), #trades td:nth-child(-n+3) { text-align: left; }
#decisions td:nth-child(3) { min-width: 12em; }
#decisions td:nth-child(4) { color: var(--muted); font-size: 12px; }
.scroll { max-height: 420px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
.buy { color: #17633a; } .sell { color: #9b1c1c; }
.config { display: flex; flex-wrap: wrap; gap: 4px 40px; align-items: flex-start; }
table.settings td { text-align: left; font-family: ui-monospace, monospace; font-size: 13px; }
.metrics { display: flex; flex-wrap: wrap; gap: 8px 48px; align-items: flex-start; }
#decisions, #trades, #problems { width: 100%; }
#decisions td:first-child { white-space: nowrap; }
section { margin: 10px 0; } .chart { min-height: 260px; }
footer { color: var(--muted); margin-top: 32px; font-size: 12px; }
"""

LOADER: Final = """
(function () {
  var banner = document.getElementById("plotly-missing");
  if (!window.Plotly) { banner.hidden = false; return; }
  var config = {responsive: true, displaylogo: false};
  document.querySelectorAll(".chart[data-figure]").forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.dataset.figure).textContent);
    Plotly.newPlot(el, spec.data, spec.layout, config).then(function () {
      el.dataset.drawn = "1";
    });
  });
})();
"""


def page(title: str, js_tag: str, body: str, footer: str) -> str:
    """A complete HTML document; charts are drawn by :data:`LOADER` once the page parsed."""
    missing = (
        '<p id="plotly-missing" hidden>The charts need plotly.js, which was not found next to '
        "this report (was the run folder copied without its <code>../_assets</code> folder?). "
        "Re-create it with <code>papertrade runs report RUN</code>, or "
        "<code>papertrade runs report RUN --inline</code> for a file that travels alone.</p>"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{CSS}</style>{js_tag}</head>\n"
        f"<body>{missing}\n{body}\n<footer>{footer}</footer>\n"
        f"<script>{LOADER}</script></body></html>\n"
    )


def table(table_id: str, head: Sequence[str], rows: Sequence[Sequence[str]], caption: str,
          empty: str = "none") -> str:
    """An HTML table of already-escaped cells, scrolling when long."""
    if not rows:
        return f'<p class="empty" id="{escape(table_id)}-empty">{escape(caption)}: {empty}</p>'
    head_html = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    wrapper = ' class="scroll"' if len(rows) > 15 else ""
    return (f"<div{wrapper}><table id=\"{escape(table_id)}\"><caption>{escape(caption)}"
            f"</caption><thead><tr>{head_html}</tr></thead><tbody>{body}</tbody></table></div>")
