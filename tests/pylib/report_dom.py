"""Checks the HTML reports of `kindling bench` / `kindling tune` in a real browser.

Headless Chromium loads the report (file://, no network), runs its inline chart script and dumps
the resulting DOM; Python's html.parser reads it. `assert_report_marks(html_path, document)`
then checks, for every chart, that the number of SVG elements with class "mark" equals the
number of data points computed here, independently of the C++ code, from the JSON document
(results.json or tune.json) by the rules of issue 6:

  cold-start       cells with stats.cold_init_ms.count > 0 (and a numeric p50), plus one mark per
                   compare.figures entry with a runtime (string) and a numeric init_ms_mean
  cold-samples     samples with kind "cold", error null/absent and a numeric init_ms
  warm-latency     cells with stats.warm_duration_ms.count > 0 (and a numeric p50)
  duration-memory  same, with a numeric memory_mb
  cost-memory      same, with a numeric stats.cost_per_million_usd
  max-memory       cells with stats.max_memory_mb > 0
  tune-duration    points with a numeric memory_mb and average_duration_ms and >= 1 ok sample
  tune-cost        same with a numeric average_cost_usd

Each mark must carry data-series, data-x and a finite numeric data-y. The lead's bench
integration test reuses this on a real run's output.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BENCH_CHARTS = ("cold-start", "cold-samples", "warm-latency", "duration-memory", "cost-memory",
                "max-memory")
TUNE_CHARTS = ("tune-duration", "tune-cost")


def chromium_path() -> str | None:
    """The headless browser to use: $KINDLING_CHROMIUM, else the first one on PATH."""
    env = os.environ.get("KINDLING_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def dump_dom(html_path, timeout: float = 90) -> str:
    """Loads html_path in headless Chromium and returns the DOM after its scripts ran.

    Flags: --no-sandbox (we run as root), a throw-away profile (parallel runs do not share one),
    every host name resolving to nothing (a report that tried the network would show it as
    missing content, never as a silent success)."""
    import pytest

    browser = chromium_path()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="kindling-chromium-") as profile:
        cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
               "--disable-extensions", "--disable-background-networking",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
               "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0",
               "--dump-dom", url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise AssertionError(f"chromium failed (rc {proc.returncode}): {proc.stderr[-3000:]}")
    # console errors of the page's own script ("Uncaught TypeError: ...") fail the check
    errors = [line for line in proc.stderr.splitlines()
              if ":CONSOLE" in line and "Uncaught" in line]
    assert not errors, "the report's script failed:\n" + "\n".join(errors)
    assert 'class="empty chart-error"' not in proc.stdout, "a chart could not be drawn"
    return proc.stdout


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _obj(d, key) -> dict:
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, dict) else {}


def _arr(d, key) -> list:
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, list) else []


def _get(d, key):
    return d.get(key) if isinstance(d, dict) else None


def _has_data(stat: dict) -> bool:
    return _num(_get(stat, "count")) and stat["count"] > 0 and _num(_get(stat, "p50"))


def _ok(sample) -> bool:
    return _get(sample, "error") is None


def expected_marks(doc: dict) -> dict:
    """{chart name: number of marks} for a results.json or tune.json document."""
    if _get(doc, "schema") == "kindling.tune/1":
        counts = {"tune-duration": 0, "tune-cost": 0}
        for p in _arr(doc, "points"):
            if not _num(_get(p, "memory_mb")) or not any(_ok(s) for s in _arr(p, "samples")):
                continue
            counts["tune-duration"] += _num(_get(p, "average_duration_ms"))
            counts["tune-cost"] += _num(_get(p, "average_cost_usd"))
        return counts
    counts = dict.fromkeys(BENCH_CHARTS, 0)
    for cell in _arr(doc, "cells"):
        stats = _obj(cell, "stats")
        counts["cold-start"] += _has_data(_obj(stats, "cold_init_ms"))
        warm = _has_data(_obj(stats, "warm_duration_ms"))
        counts["warm-latency"] += warm
        if warm and _num(_get(cell, "memory_mb")):
            counts["duration-memory"] += 1
            counts["cost-memory"] += _num(_get(stats, "cost_per_million_usd"))
        counts["max-memory"] += _num(_get(stats, "max_memory_mb")) and stats["max_memory_mb"] > 0
        counts["cold-samples"] += sum(
            1 for s in _arr(cell, "samples")
            if _get(s, "kind") == "cold" and _ok(s) and _num(_get(s, "init_ms")))
    for f in _arr(_obj(doc, "compare"), "figures"):
        if isinstance(_get(f, "runtime"), str) and _num(_get(f, "init_ms_mean")):
            counts["cold-start"] += 1
    return counts


class ChartDom(HTMLParser):
    """Collects, per <svg class="chart" data-chart=NAME>, its mark elements' attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, list[dict]] = {}
        self.chart_attrs: dict[str, dict] = {}
        self.scripts: list[dict] = []
        self.elements: list[tuple[str, dict]] = []
        self._current: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        self.elements.append((tag, a))
        classes = a.get("class", "").split()
        if tag == "script":
            self.scripts.append(a)
        if tag == "svg" and "chart" in classes and "data-chart" in a:
            self._current = a["data-chart"]
            self.charts.setdefault(self._current, [])
            self.chart_attrs[self._current] = a
        elif self._current is not None and "mark" in classes:
            self.charts[self._current].append({"tag": tag, **a})

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg":
            self._current = None

    def handle_endtag(self, tag):
        if tag == "svg":
            self._current = None


def parse_dom(dom: str) -> ChartDom:
    parser = ChartDom()
    parser.feed(dom)
    parser.close()
    return parser


def assert_report_marks(html_path, results_json) -> ChartDom:
    """Renders html_path in Chromium and checks every chart's marks against results_json (a dict,
    or the path of results.json / tune.json). Returns the parsed DOM for further checks. Skips
    (pytest.skip) when no Chromium is installed."""
    doc = results_json
    if not isinstance(doc, dict):
        doc = json.loads(Path(doc).read_text())
    dom = parse_dom(dump_dom(html_path))
    expected = expected_marks(doc)
    for name, want in expected.items():
        assert name in dom.charts, f"chart {name!r} missing from {html_path}"
        # html.parser lowercases attribute names; the script sets viewBox once a chart is drawn
        assert "viewbox" in dom.chart_attrs[name], f"chart {name!r} not drawn (script failed?)"
        marks = dom.charts[name]
        assert len(marks) == want, f"chart {name!r}: {len(marks)} marks, expected {want}"
        for m in marks:
            assert m.get("data-series", "") != "", f"{name}: mark without data-series: {m}"
            assert "data-x" in m, f"{name}: mark without data-x: {m}"
            y = float(m.get("data-y", "nan"))
            assert math.isfinite(y), f"{name}: mark with a non-numeric data-y: {m}"
    return dom
