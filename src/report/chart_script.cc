#include "report/chart_script.h"

namespace kindling::report {
namespace {

constexpr std::string_view kStyle = R"CSS(
:root{--fg:#1d2433;--muted:#5b6475;--line:#d9dde5;--bg:#fff;--band:#f5f7fa;--accent:#2b5fad;--bad:#b3261e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1280px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
.lede{font-size:15px;margin:0 0 12px;color:var(--muted)}
dl.meta{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 14px;margin:8px 0 0;font-size:13px}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0;overflow-wrap:anywhere}
.callout{border-left:4px solid var(--accent);background:var(--band);padding:8px 12px;margin:12px 0}
.callout.bad{border-left-color:var(--bad)}
figure{margin:18px 0 26px}
figcaption{font-size:13px;color:var(--muted);margin:2px 0 6px}
figcaption b{color:var(--fg);font-size:15px}
.chart-box{overflow-x:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
svg.chart{display:block;font-size:11px;font-family:inherit}
svg.chart .grid{stroke:#eceff3}
svg.chart .axis{stroke:#8a93a3}
svg.chart .sep{stroke:#d9dde5;stroke-dasharray:3 3}
svg.chart .range{stroke-width:1.2;opacity:.6}
svg.chart .whisker{stroke-width:2}
svg.chart .line{fill:none;stroke-width:1.8;opacity:.85}
svg.chart .mark{stroke:#fff;stroke-width:1}
svg.chart .mark.sample{opacity:.75;stroke-width:.5}
svg.chart .mark:hover{stroke:#000;stroke-width:1.5}
svg.chart .mark.recommended{stroke:#000;stroke-width:2.5}
svg.chart .hl-label{font-weight:600}
svg.chart .legend-item{cursor:pointer}
svg.chart.focus [data-series]:not(.on){opacity:.1}
svg.chart text.title{font-weight:600;fill:var(--muted)}
svg.chart .empty{fill:var(--muted);font-size:13px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0;width:100%}
th,td{padding:3px 7px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:var(--band);font-weight:600;position:sticky;top:0}
th.l,td.l{text-align:left}
td.notes{white-space:normal;text-align:left;color:var(--muted);min-width:10em}
tr.group-start td{border-top:2px solid #b9c0cc}
td.spread{color:var(--bad);font-weight:600}
td.err{color:var(--bad);font-weight:600}
td.na{color:#a0a7b4}
tr.recommended td{background:#eaf1fb;font-weight:600}
.table-box{overflow-x:auto}
table.decisions{font-size:14px;width:auto;min-width:60%}
table.decisions td.value{font-weight:600}
code{font-size:12px;background:var(--band);padding:0 3px;border-radius:3px}
.muted{color:var(--muted)}
@media (prefers-color-scheme:dark){:root{--fg:#e4e7ee;--muted:#9aa3b5;--line:#3a4150;--bg:#161a22;--band:#202633}
.chart-box{background:#fff}svg.chart{color:#1d2433}}
)CSS";

constexpr std::string_view kScript = R"JS(
(function () {
  'use strict';
  var NS = null;  // the SVG namespace, taken from the server-rendered <svg> elements
  function el(parent, name, attrs, text) {
    var e = document.createElementNS(NS, name);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = String(text);
    parent.appendChild(e);
    return e;
  }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function fmtTick(v, unit) {
    var a = Math.abs(v), s;
    if (a === 0) s = '0';
    else if (a >= 100) s = v.toFixed(0);
    else if (a >= 10) s = (+v.toFixed(1)).toString();
    else if (a >= 1) s = (+v.toFixed(2)).toString();
    else s = (+v.toPrecision(2)).toString();
    return unit === 'USD' ? '$' + s : s;
  }
  // Linear domain from 0 (or the minimum if negative) with "nice" 1-2-5 steps.
  function linearAxis(min, max) {
    var lo = Math.min(0, min), hi = max > lo ? max : lo + 1;
    var raw = (hi - lo) / 5, mag = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / mag;
    var step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
    lo = Math.floor(lo / step) * step; hi = Math.ceil(hi / step) * step;
    var ticks = [];
    for (var t = lo; t <= hi + step / 2; t += step) ticks.push(+t.toPrecision(12));
    return {lo: lo, hi: hi, ticks: ticks, log: false};
  }
  // Log domain on the 1-2-5 sequence around [min, max] (both > 0).
  function logAxis(min, max) {
    var seq = [];
    for (var e = Math.floor(Math.log10(min)) - 1; e <= Math.ceil(Math.log10(max)) + 1; e++)
      [1, 2, 5].forEach(function (m) { seq.push(+(m * Math.pow(10, e)).toPrecision(12)); });
    var lo = seq[0], hi = seq[seq.length - 1];
    seq.forEach(function (v) { if (v <= min) lo = v; });
    for (var i = seq.length - 1; i >= 0; i--) if (seq[i] >= max) hi = seq[i];
    var ticks = seq.filter(function (v) { return v >= lo && v <= hi; });
    if (ticks.length > 12) ticks = ticks.filter(function (v) { return Math.abs(Math.log10(v) % 1) < 1e-9; });
    return {lo: lo, hi: hi, ticks: ticks, log: true};
  }
  function scale(axis, a, b) {  // value -> pixel between a (lo) and b (hi)
    if (axis.log) {
      var l0 = Math.log(axis.lo), l1 = Math.log(axis.hi);
      return function (v) { return v > 0 ? a + (Math.log(Math.max(v, axis.lo)) - l0) / (l1 - l0) * (b - a) : a; };
    }
    return function (v) { return a + (v - axis.lo) / (axis.hi - axis.lo) * (b - a); };
  }
  function textWidth(s, size) { return String(s).length * size * 0.58; }
  function axisTitle(ax) {
    var parts = [];
    if (ax.unit) parts.push(ax.unit);
    if (ax.log) parts.push('log scale');
    return ax.label + (parts.length ? ' (' + parts.join(', ') + ')' : '');
  }
  function drawMark(g, p, s, x, y, cls, r) {
    var m;
    x = +x.toFixed(1); y = +y.toFixed(1);
    if (s.shape === 'diamond') {
      var d = r + 2;
      m = el(g, 'path', {d: 'M' + x + ',' + (y - d) + 'L' + (x + d) + ',' + y + 'L' + x + ',' + (y + d) + 'L' + (x - d) + ',' + y + 'Z'});
    } else {
      m = el(g, 'circle', {cx: x, cy: y, r: r});
    }
    m.setAttribute('class', cls);
    m.setAttribute('fill', s.color || '#555');
    m.setAttribute('data-series', s.id);
    m.setAttribute('data-x', p.dx !== undefined ? p.dx : String(p.x));
    m.setAttribute('data-y', String(p.y));
    el(m, 'title', null, p.tip || (s.label + ': ' + p.y));
    return m;
  }
  // Hovering a legend entry (or clicking it, to keep it) shows that series alone.
  function focusSeries(svg, id) {
    var all = svg.querySelectorAll('[data-series]');
    for (var i = 0; i < all.length; i++) {
      if (id !== null && all[i].getAttribute('data-series') === id) all[i].classList.add('on');
      else all[i].classList.remove('on');
    }
    if (id === null) svg.classList.remove('focus'); else svg.classList.add('focus');
  }
  function drawLegend(svg, series, lines, width) {
    var x = 64, y = 14, rowH = 18, pinned = null;
    series.forEach(function (s) {
      var w = 26 + textWidth(s.label, 11) + 14;
      if (x + w > width - 10 && x > 64) { x = 64; y += rowH; }
      var g = el(svg, 'g', {'class': 'legend-item'});
      el(g, 'rect', {x: x - 2, y: y - 8, width: w - 8, height: 16, fill: 'transparent'});
      if (lines) el(g, 'line', {x1: x, y1: y, x2: x + 20, y2: y, stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash || null});
      if (s.shape === 'diamond') el(g, 'path', {d: 'M' + (x + 10) + ',' + (y - 6) + 'l6,6l-6,6l-6,-6z', fill: s.color});
      else el(g, 'circle', {cx: x + 10, cy: y, r: 4.5, fill: s.color});
      el(g, 'text', {x: x + 24, y: y + 4}, s.label);
      g.addEventListener('mouseenter', function () { focusSeries(svg, s.id); });
      g.addEventListener('mouseleave', function () { focusSeries(svg, pinned); });
      g.addEventListener('click', function () { pinned = pinned === s.id ? null : s.id; focusSeries(svg, pinned); });
      x += w;
    });
    return y + 10;
  }
  function draw(svg, chart) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var slots = chart.x.type === 'slots', series = chart.series || [], points = chart.points || [];
    var nslots = slots ? (chart.x.slots || []).length : 0, dodges = slots ? Math.max(1, chart.x.dodges || 1) : 1;
    var left = 70, right = 24, plotH = 270;
    // fill the box the chart sits in; slot charts grow wider (and scroll) when slots need it
    var box = svg.parentNode && svg.parentNode.clientWidth ? svg.parentNode.clientWidth - 2 : 0;
    var base = Math.max(640, Math.min(box || 960, 1600));
    var slotW = slots ? Math.max(48, dodges * 12 + 18, nslots ? (base - left - right) / nslots : 0) : 0;
    var width = slots ? Math.max(base, left + right + nslots * slotW) : base;
    var legendBottom = drawLegend(svg, series, chart.lines, width);
    var top = legendBottom + 14, bottom = top + plotH;
    // y domain over values and decorations
    var ys = [];
    points.forEach(function (p) {
      if (isNum(p.y)) ys.push(p.y);
      (p.r || []).concat(p.t || []).forEach(function (v) { if (isNum(v)) ys.push(v); });
    });
    if (!points.length) {
      el(svg, 'text', {x: width / 2, y: top + plotH / 2, 'text-anchor': 'middle', 'class': 'empty'}, 'no data for this chart');
      svg.setAttribute('viewBox', '0 0 ' + width + ' ' + (bottom + 20));
      svg.setAttribute('width', width); svg.setAttribute('height', bottom + 20);
      return;
    }
    var pos = ys.filter(function (v) { return v > 0; });
    var yax = chart.y.log && pos.length ? logAxis(Math.min.apply(null, pos), Math.max.apply(null, pos))
                                        : linearAxis(Math.min.apply(null, ys), Math.max.apply(null, ys));
    var Y = scale(yax, bottom, top);
    var deco = el(svg, 'g', {'class': 'decorations'});
    var plotRight = width - right;
    yax.ticks.forEach(function (t) {
      var py = Y(t);
      el(deco, 'line', {x1: left, x2: plotRight, y1: py, y2: py, 'class': 'grid'});
      el(deco, 'text', {x: left - 6, y: py + 4, 'text-anchor': 'end'}, fmtTick(t, chart.y.unit));
    });
    el(deco, 'line', {x1: left, x2: left, y1: top, y2: bottom, 'class': 'axis'});
    el(deco, 'line', {x1: left, x2: plotRight, y1: bottom, y2: bottom, 'class': 'axis'});
    el(deco, 'text', {x: 0, y: 0, 'text-anchor': 'middle', 'class': 'title', transform: 'translate(16,' + ((top + bottom) / 2) + ') rotate(-90)'}, axisTitle(chart.y));
    var X, extra = 0;
    if (slots) {
      var sl = chart.x.slots || [];
      var labelled = sl.some(function (s) { return s.l; });
      var slotRot = sl.some(function (s) { return textWidth(s.l || '', 10) > slotW - 4; });
      var slotRowH = labelled ? (slotRot ? Math.min(70, 8 + Math.max.apply(null, sl.map(function (s) { return textWidth(s.l || '', 10); })) * 0.6) : 16) : 0;
      // groups: consecutive slots with the same g
      var groups = [];
      sl.forEach(function (s, i) {
        if (!groups.length || groups[groups.length - 1].g !== s.g) groups.push({g: s.g, a: i, b: i});
        else groups[groups.length - 1].b = i;
      });
      var groupRot = groups.some(function (g) { return textWidth(g.g, 11) > (g.b - g.a + 1) * slotW - 6; });
      var groupH = groupRot ? Math.min(110, 10 + Math.max.apply(null, groups.map(function (g) { return textWidth(g.g, 11); })) * 0.6) : 18;
      sl.forEach(function (s, i) {
        var cx = left + (i + 0.5) * slotW;
        if (s.l) {
          if (slotRot) el(deco, 'text', {x: cx, y: bottom + 12, 'text-anchor': 'end', 'font-size': 10, transform: 'rotate(-35 ' + cx + ' ' + (bottom + 12) + ')'}, s.l);
          else el(deco, 'text', {x: cx, y: bottom + 13, 'text-anchor': 'middle', 'font-size': 10}, s.l);
        }
      });
      groups.forEach(function (g, gi) {
        var x0 = left + g.a * slotW, x1 = left + (g.b + 1) * slotW, gy = bottom + slotRowH + 16;
        if (gi > 0) el(deco, 'line', {x1: x0, x2: x0, y1: top, y2: bottom + slotRowH + 4, 'class': 'sep'});
        var cx = (x0 + x1) / 2;
        if (groupRot) el(deco, 'text', {x: cx, y: gy, 'text-anchor': 'end', 'font-weight': 600, transform: 'rotate(-25 ' + cx + ' ' + gy + ')'}, g.g);
        else el(deco, 'text', {x: cx, y: gy, 'text-anchor': 'middle', 'font-weight': 600}, g.g);
      });
      extra = slotRowH + groupH + 8;
      var step = Math.min(16, (slotW - 10) / dodges);
      X = function (p) {
        var d = isNum(p.d) ? p.d : 0, j = isNum(p.j) ? p.j : 0;
        var spread = dodges > 1 ? step * 0.8 : slotW * 0.5;
        return left + (p.x + 0.5) * slotW + (d - (dodges - 1) / 2) * step + j * spread;
      };
    } else {
      var ticks = (chart.x.ticks || []).filter(isNum);
      var xs = points.map(function (p) { return p.x; }).filter(isNum).concat(ticks);
      var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs), pad = 30;
      var xlog = chart.x.log && xmin > 0;
      var fx;
      if (xmax === xmin) fx = function () { return (left + plotRight) / 2; };
      else if (xlog) fx = function (v) { return left + pad + (Math.log(v) - Math.log(xmin)) / (Math.log(xmax) - Math.log(xmin)) * (plotRight - left - 2 * pad); };
      else fx = function (v) { return left + pad + (v - xmin) / (xmax - xmin) * (plotRight - left - 2 * pad); };
      var lastX = -1e9;
      ticks.forEach(function (t) {
        var px = fx(t);
        el(deco, 'line', {x1: px, x2: px, y1: bottom, y2: bottom + 5, 'class': 'axis'});
        if (px - lastX > textWidth(fmtTick(t), 11) + 6) { el(deco, 'text', {x: px, y: bottom + 18, 'text-anchor': 'middle'}, fmtTick(t)); lastX = px; }
      });
      extra = 22;
      X = function (p) { return fx(p.x); };
    }
    var xTitleY = bottom + extra + 14;
    el(deco, 'text', {x: (left + plotRight) / 2, y: xTitleY, 'text-anchor': 'middle', 'class': 'title'}, axisTitle(chart.x));
    var height = xTitleY + 10;
    // ranges and whiskers (decorations, never marks)
    points.forEach(function (p) {
      var s = series[p.s] || {}, px = X(p);
      if (p.r && p.r.length === 2 && isNum(p.r[0]) && isNum(p.r[1])) {
        el(deco, 'line', {x1: px, x2: px, y1: Y(p.r[0]), y2: Y(p.r[1]), stroke: s.color, 'class': 'range', 'data-series': s.id});
        [p.r[0], p.r[1]].forEach(function (v) { el(deco, 'line', {x1: px - 2.5, x2: px + 2.5, y1: Y(v), y2: Y(v), stroke: s.color, 'class': 'range', 'data-series': s.id}); });
      }
      (p.t || []).forEach(function (v) {
        if (isNum(v)) el(deco, 'line', {x1: px - 5, x2: px + 5, y1: Y(v), y2: Y(v), stroke: s.color, 'class': 'whisker', 'data-series': s.id});
      });
    });
    if (chart.lines) {
      series.forEach(function (s, si) {
        var pts = points.filter(function (p) { return p.s === si && isNum(p.x); }).sort(function (a, b) { return a.x - b.x; });
        if (pts.length < 2) return;
        el(deco, 'path', {d: pts.map(function (p, i) { return (i ? 'L' : 'M') + X(p).toFixed(1) + ',' + Y(p.y).toFixed(1); }).join(''),
                          stroke: s.color, 'stroke-dasharray': s.dash || null, 'class': 'line', 'data-series': s.id});
      });
    }
    var marks = el(svg, 'g', {'class': 'marks'});
    points.forEach(function (p) {
      var s = series[p.s] || {id: '?', label: '?', color: '#555'};
      var px = X(p), py = Y(p.y), sample = isNum(p.j);
      drawMark(marks, p, s, px, py, p.hl ? 'mark recommended' : sample ? 'mark sample' : 'mark', p.hl ? 7 : sample ? 3 : 4.5);
      if (p.hl) el(deco, 'text', {x: px, y: py - 12, 'text-anchor': 'middle', 'class': 'hl-label'}, 'recommended');
    });
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    svg.style.maxWidth = width > base ? 'none' : '100%';
    svg.style.height = 'auto';
  }
  function main() {
    var node = document.getElementById('kindling-data');
    if (!node) return;
    var data;
    try { data = JSON.parse(node.textContent); } catch (e) { return; }
    var charts = {};
    (data.charts || []).forEach(function (c) { charts[c.name] = c; });
    var svgs = document.querySelectorAll('svg.chart[data-chart]');
    for (var i = 0; i < svgs.length; i++) {
      var svg = svgs[i], chart = charts[svg.getAttribute('data-chart')];
      NS = svg.namespaceURI;
      if (!chart) continue;
      try { draw(svg, chart); } catch (e) {
        while (svg.firstChild) svg.removeChild(svg.firstChild);
        el(svg, 'text', {x: 10, y: 20, 'class': 'empty chart-error'}, 'chart failed: ' + e);
      }
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
  else main();
})();
)JS";

}  // namespace

std::string_view reportStyle() { return kStyle; }
std::string_view chartScript() { return kScript; }

}  // namespace kindling::report
