"""A self-contained HTML page for a replay result: summary, inline SVG charts, coverage and a searchable,
sortable violation table (inline JS, no network: the page must open on an offline machine)."""

from __future__ import annotations

import json
from html import escape

from hvmiex.replay import ReplayResult

STATIC_ROWS = 300  # rows written as HTML for readers without JS; the script renders all of them
MAX_ROWS = 50_000  # rows embedded in the page: more makes browsers struggle (the JSON report holds them all)
_PALETTE = ("#c0392b", "#d35400", "#8e44ad", "#2c3e50", "#7f8c8d", "#16a085", "#b7950b", "#1f618d")

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9cfdb;word-break:break-all}
main{padding:16px 24px;max-width:1500px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 10px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{flex:1;min-width:140px;background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:10px 14px}
.card b{display:block;font-size:26px}.ok{color:#1e8449}.bad{color:#c0392b}.warn{color:#b7950b}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
.charts section{margin:0}svg text{font-size:12px;fill:#1d2330}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e5e8ee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef1f5;cursor:pointer;user-select:none;position:sticky;top:0}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.num{text-align:right}tr.blocked td.verdict{color:#c0392b}tr.allowed td.verdict{color:#1e8449}
tr.changed{background:#fff8e1}.dim{color:#8a93a3}
.tools{display:flex;gap:8px;align-items:center;margin:0 0 8px;flex-wrap:wrap}
.tools input{flex:1;min-width:240px;padding:6px 8px;border:1px solid #c5cbd6;border-radius:4px}
.tools select,.tools button{padding:6px 8px;border:1px solid #c5cbd6;border-radius:4px;background:#fff}
.scroll{max-height:70vh;overflow:auto}
"""

_JS = r"""
(function(){
  var data = JSON.parse(document.getElementById('replay-data').textContent);
  var rows = data.violations, exc = {};
  data.coverage.entries.forEach(function(e){ exc[e.record_index] = e; });
  var cols = [
    ['number','#',1],['where','where',0],['kind','kind',0],['process','process',0],['originator','originator',0],
    ['victim','victim',0],['type','type',0],['logged','logged',0],['verdict','now',0],['exception','exception',0]];
  function cell(r, k){
    switch(k){
      case 'where': return r.line == null ? r.source : r.source + ':' + r.line;
      case 'type': return r.object_type + ' ' + r.access;
      case 'logged': return r.logged ? ((r.logged.action === 'allowed' ? 'allowed' : 'blocked') +
                        (r.logged.reason && r.logged.reason !== 'allowed' ? ': ' + r.logged.reason : '') +
                        (r.logged.beta ? ' (B)' : '')) : '-';
      case 'verdict': return r.allowed ? (r.reason === 'allowed' ? 'allowed' : 'allowed (' + r.reason + ')')
                                       : 'blocked: ' + r.reason;
      case 'exception': return r.exception == null ? '-' : (exc[r.exception] ? '#' + r.exception + ' ' +
                        exc[r.exception].label : '#' + r.exception);
      default: var v = r[k]; return v == null ? '-' : v;
    }
  }
  rows.forEach(function(r){
    r._cells = cols.map(function(c){ return cell(r, c[0]); });
    r._text = (r._cells.join(' ') + ' ' + r.explanation + ' ' + (r.guest || '')).toLowerCase();
  });
  var table = document.getElementById('violations'), tbody = table.tBodies[0];
  var search = document.getElementById('search'), which = document.getElementById('which');
  var more = document.getElementById('more'), count = document.getElementById('count');
  var sortCol = 0, sortDir = 1, limit = 500, shown = [];
  function apply(){
    var q = search.value.toLowerCase().split(/\s+/).filter(Boolean), w = which.value;
    shown = rows.filter(function(r){
      if (w === 'allowed' && !r.allowed) return false;
      if (w === 'blocked' && r.allowed) return false;
      if (w === 'changed' && !r.changed) return false;
      for (var i = 0; i < q.length; i++) if (r._text.indexOf(q[i]) < 0) return false;
      return true;
    });
    var numeric = cols[sortCol][2];
    shown.sort(function(a, b){
      var x = a._cells[sortCol], y = b._cells[sortCol];
      if (numeric) return (x - y) * sortDir;
      x = String(x); y = String(y);
      return (x < y ? -1 : x > y ? 1 : a.number - b.number) * sortDir;
    });
    draw();
  }
  function draw(){
    var frag = document.createDocumentFragment();
    shown.slice(0, limit).forEach(function(r){
      var tr = document.createElement('tr');
      tr.className = (r.allowed ? 'allowed' : 'blocked') + (r.changed ? ' changed' : '');
      tr.title = r.explanation;
      r._cells.forEach(function(v, i){
        var td = document.createElement('td');
        td.textContent = v;
        if (cols[i][2]) td.className = 'num';
        if (cols[i][0] === 'verdict') td.className = 'verdict';
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    tbody.textContent = '';
    tbody.appendChild(frag);
    count.textContent = Math.min(limit, shown.length) + ' of ' + shown.length + ' matching (' + rows.length + ' rows)';
    more.style.display = shown.length > limit ? '' : 'none';
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th, i){
    th.addEventListener('click', function(){
      sortDir = (sortCol === i) ? -sortDir : 1; sortCol = i;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function(h){ h.className = ''; });
      th.className = sortDir > 0 ? 'sorted-asc' : 'sorted-desc';
      apply();
    });
  });
  search.addEventListener('input', function(){ limit = 500; apply(); });
  which.addEventListener('change', function(){ limit = 500; apply(); });
  more.addEventListener('click', function(){ limit += 2000; draw(); });
  sortable(document.getElementById('coverage'));
  apply();
  function sortable(t){
    if (!t) return;
    var dir = {}, body = t.tBodies[0];
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function(th, i){
      th.addEventListener('click', function(){
        dir[i] = -(dir[i] || -1);
        var list = Array.prototype.slice.call(body.rows);
        list.sort(function(a, b){
          var x = a.cells[i].getAttribute('data-v') || a.cells[i].textContent;
          var y = b.cells[i].getAttribute('data-v') || b.cells[i].textContent;
          var nx = parseFloat(x), ny = parseFloat(y);
          if (!isNaN(nx) && !isNaN(ny)) return (nx - ny) * dir[i];
          return (x < y ? -1 : x > y ? 1 : 0) * dir[i];
        });
        list.forEach(function(r){ body.appendChild(r); });
      });
    });
  }
})();
"""


def _bar_chart(title: str, pairs: list[tuple[str, int]], color: str | None = None, width: int = 460) -> str:
    """A horizontal bar chart as inline SVG."""
    if not pairs:
        return f'<section><h2>{escape(title)}</h2><p class="dim">nothing to show</p></section>'
    label_w, bar_h, gap = 190, 18, 6
    top = max(c for _, c in pairs) or 1
    height = len(pairs) * (bar_h + gap) + gap
    room = width - label_w - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {width} {height}">'
    ]
    for i, (name, count) in enumerate(pairs):
        y = gap + i * (bar_h + gap)
        w = max(1, round(room * count / top))
        fill = color or _PALETTE[i % len(_PALETTE)]
        short = name if len(name) <= 28 else name[:27] + "\u2026"
        parts.append(
            f'<g><title>{escape(name)}: {count}</title>'
            f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" rx="2" fill="{fill}"/>'
            f'<text x="{label_w + w + 4}" y="{y + bar_h - 5}">{count}</text></g>'
        )
    parts.append("</svg>")
    return f'<section><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def _donut(title: str, slices: list[tuple[str, int, str]], size: int = 170) -> str:
    """A donut chart (inline SVG) with a legend."""
    total = sum(c for _, c, _ in slices)
    r, stroke = 60, 26
    circumference = 2 * 3.141592653589793 * r
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="{escape(title)}">'
    ]
    c = size / 2
    if not total:
        parts.append(f'<circle cx="{c}" cy="{c}" r="{r}" fill="none" stroke="#dde1e8" stroke-width="{stroke}"/>')
    offset = 0.0
    for name, count, color in slices:
        if not count:
            continue
        length = circumference * count / total
        parts.append(
            f'<circle cx="{c}" cy="{c}" r="{r}" fill="none" stroke="{color}" stroke-width="{stroke}" '
            f'stroke-dasharray="{length:.2f} {circumference - length:.2f}" stroke-dashoffset="{-offset:.2f}" '
            f'transform="rotate(-90 {c} {c})"><title>{escape(name)}: {count}</title></circle>'
        )
        offset += length
    parts.append(f'<text x="{c}" y="{c + 5}" text-anchor="middle" style="font-size:16px">{total}</text></svg>')
    legend = "".join(
        f'<div><span style="display:inline-block;width:10px;height:10px;background:{color}"></span> '
        f"{escape(name)}: <b>{count}</b>{f' ({100.0 * count / total:.1f}%)' if total else ''}</div>"
        for name, count, color in slices
    )
    return (
        f'<section><h2>{escape(title)}</h2><div style="display:flex;gap:16px;align-items:center">'
        f"{''.join(parts)}<div>{legend}</div></div></section>"
    )


def _script_json(data: object) -> str:
    # safe inside <script>: no "</" sequence, and ASCII only (U+2028/2029 escaped)
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("</", "<\\/")


def render_html(result: ReplayResult, *, title: str = "hvmiex replay report", max_rows: int = MAX_ROWS) -> str:
    """The whole report as one HTML document (no external resources); at most ``max_rows`` violation rows."""
    s = result.summary
    refs = result.exception_index()
    data = result.to_dict()
    listed = data["violations"]
    not_listed = result.items_dropped + max(0, len(listed) - max_rows)
    data["violations"] = listed[:max_rows]
    e = escape
    inputs = ", ".join(f"{i.path} ({i.input.value}, {i.violations} violations)" for i in result.inputs) or "none"
    cards = [
        ("violations", str(s.total), ""),
        ("allowed", str(s.allowed), "ok"),
        ("blocked", str(s.blocked), "bad"),
        ("decided otherwise than logged", str(s.changed), "warn" if s.changed else ""),
        ("exceptions fired", f"{len(result.fired)} / {len(result.coverage)}", ""),
        ("problems", str(len(result.problems)), "warn" if result.problems else ""),
    ]
    card_html = "".join(f'<div class="card">{e(n)}<b class="{cls}">{e(v)}</b></div>' for n, v, cls in cards)
    notes = "".join(f'<p class="warn">{e(n)}</p>' for n in result.notes)
    if result.interrupted:
        notes = '<p class="warn"><b>Interrupted</b>: the figures cover what was replayed before Ctrl-C.</p>' + notes

    def label(index: int) -> str:
        ref = refs.get(index)
        return f"#{index} {ref.label}" if ref else f"#{index}"

    charts = "".join(
        [
            _donut("verdicts", [("allowed", s.allowed, "#1e8449"), ("blocked", s.blocked, "#c0392b")]),
            _donut(
                "exception coverage",
                [("fired", len(result.fired), "#1f618d"), ("never fired", len(result.never_fired), "#b3bac6")],
            ),
            _bar_chart("blocked by reason", list(s.blocked_by_reason), "#c0392b"),
            _bar_chart("top processes (blocked)", list(s.top_processes)),
            _bar_chart("top originators (blocked)", list(s.top_originators)),
            _bar_chart("allowed by exception", [(label(i), c) for i, c in s.allowed_by_exception[:20]], "#1e8449"),
        ]
    )
    cov_rows = []
    for c in result.coverage:
        ref = c.exception
        cov_rows.append(
            f'<tr><td class="num">{ref.record_index}</td><td>{e(ref.kind)}</td><td>{e(ref.originator)}</td>'
            f"<td>{e(ref.victim)}</td><td>{e(ref.process or '-')}</td><td>{e(ref.object_type)}</td>"
            f'<td>{e(ref.flags)}</td><td class="num">{ref.signatures}</td>'
            f'<td class="num" data-v="{c.hits}">{c.hits if c.hits else "<span class=dim>0</span>"}</td>'
            f"<td>{e(c.first or 'never')}</td><td>{e(ref.source or '')}</td></tr>"
        )
    static_rows = []
    for item in result.items[:STATIC_ROWS]:
        verdict = ("allowed" if item.reason == "allowed" else f"allowed ({item.reason})") if item.allowed else (
            f"blocked: {item.reason}"
        )
        logged = "-"
        if item.logged_action is not None:
            logged = "allowed" if item.logged_action == "allowed" else "blocked"
            if item.logged_reason and item.logged_reason != "allowed":
                logged += f": {item.logged_reason}"
            if item.logged_beta:
                logged += " (B)"
        cls = ("allowed" if item.allowed else "blocked") + (" changed" if item.changed else "")
        static_rows.append(
            f'<tr class="{cls}" title="{e(item.explanation)}"><td class="num">{item.number}</td><td>{e(item.where)}</td>'
            f"<td>{e(item.kind)}</td><td>{e(item.process or '-')}</td><td>{e(item.originator or '-')}</td>"
            f"<td>{e(item.victim or '-')}</td><td>{e(item.object_type)} {e(item.access)}</td><td>{e(logged)}</td>"
            f'<td class="verdict">{e(verdict)}</td>'
            f"<td>{e(label(item.exception)) if item.exception is not None else '-'}</td></tr>"
        )
    dropped = (
        f'<p class="warn">{not_listed} further violations are counted above but not listed '
        "(the JSON report lists more).</p>"
        if not_listed
        else ""
    )
    problems = ""
    if result.problems:
        problems = (
            f"<section><h2>problems ({len(result.problems)})</h2><div class=scroll><table><thead><tr><th>where</th>"
            "<th>problem</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td>{e(p.source)}{'' if p.line is None else ':' + str(p.line)}</td><td>{e(p.message)}</td></tr>"
                for p in result.problems
            )
            + "</tbody></table></div></section>"
        )
    build = f" (build {result.build})" if result.build is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hvmiex"><title>{e(title)}</title><style>{_CSS}</style></head>
<body><header><h1>{e(title)}</h1><p>exceptions: {e(result.exceptions_path)}{e(build)} &middot; inputs: {e(inputs)}
&middot; {result.elapsed:.2f} s</p></header><main>
{notes}<section><div class="cards">{card_html}</div></section>
<div class="charts">{charts}</div>
<section><h2>exception coverage: {len(result.fired)} of {len(result.coverage)} fired,
{len(result.never_fired)} never did</h2><div class="scroll"><table id="coverage"><thead><tr><th>#</th><th>kind</th>
<th>originator</th><th>victim</th><th>process</th><th>object type</th><th>flags</th><th>sigs</th><th>hits</th>
<th>first hit</th><th>source</th></tr></thead><tbody>{"".join(cov_rows)}</tbody></table></div></section>
<section><h2>violations</h2><div class="tools"><input id="search" type="search"
placeholder="search: process, originator, victim, reason, file... (words are ANDed)">
<select id="which"><option value="all">all</option><option value="blocked">blocked</option>
<option value="allowed">allowed</option><option value="changed">decided otherwise than logged</option></select>
<span id="count" class="dim">{min(len(result.items), STATIC_ROWS)} of {len(data["violations"])} rows</span></div>{dropped}
<div class="scroll"><table id="violations"><thead><tr><th>#</th><th>where</th><th>kind</th><th>process</th>
<th>originator</th><th>victim</th><th>type</th><th>logged</th><th>now</th><th>exception</th></tr></thead>
<tbody>{"".join(static_rows)}</tbody></table></div><p><button id="more" style="display:none">show more</button></p>
</section>{problems}</main>
<script type="application/json" id="replay-data">{_script_json(data)}</script>
<script>{_JS}</script></body></html>
"""
