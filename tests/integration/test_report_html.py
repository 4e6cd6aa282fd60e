"""The HTML reports of `kindling bench` and `kindling tune`, checked in headless Chromium.

`kindling report FILE --out DIR` renders a results.json (kindling.bench/1) into DIR/report.html
or a tune.json (kindling.tune/1) into DIR/tune.html; Chromium runs the inline chart script and
dumps the DOM; every chart must hold exactly one class="mark" element per data point, counted
from the document by report_dom.expected_marks (rules of issue 6). Also checked: nothing in the
page points at the network, hostile strings stay text, an empty matrix still renders.
Needs no daemon and no root; skips only when Chromium is absent.
"""
import json
import math
import subprocess
from pathlib import Path

import pytest

import kindling_harness as kh
import report_dom as rd

EVIL = "</script><script>document.title='pwned'</script><i id=\"pwned\">x</i> & 'q' <!--"


def nearest_rank(values, q):
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def stat(values):
    if not values:
        return {k: 0 for k in ("count", "min", "p50", "p90", "p99", "max", "mean")}
    return {"count": len(values), "min": min(values), "p50": nearest_rank(values, 50),
            "p90": nearest_rank(values, 90), "p99": nearest_rank(values, 99),
            "max": max(values), "mean": sum(values) / len(values)}


PRICING = {"architecture": "x86_64", "gb_second_usd": 0.0000166667, "request_usd": 0.0000002}


def make_cell(runtime, workload, memory, cold_inits, warm_durations, error=None):
    samples = []
    for i, init in enumerate(cold_inits):
        samples.append({"kind": "cold", "init_ms": init, "duration_ms": 1.5 + i, "billed_ms":
                        math.ceil(init + 1.5 + i), "max_memory_mb": 30 + memory // 64,
                        "client_ms": init + 5, "error": None})
    for d in warm_durations:
        samples.append({"kind": "warm", "init_ms": None, "duration_ms": d, "billed_ms":
                        math.ceil(d), "max_memory_mb": 30 + memory // 64, "client_ms": d + 0.4,
                        "error": None})
    if error:
        samples.append({"kind": error[0], "init_ms": None, "duration_ms": 0, "billed_ms": 0,
                        "max_memory_mb": 0, "client_ms": 3001.2, "error": error[1]})
    ok = [s for s in samples if s["error"] is None]
    cold = [s for s in ok if s["kind"] == "cold"]
    warm = [s for s in ok if s["kind"] == "warm"]
    cost = [(s["billed_ms"] / 1000 * memory / 1024 * PRICING["gb_second_usd"]
             + PRICING["request_usd"]) * 1e6 for s in warm]
    return {
        "runtime": runtime, "runtime_id": runtime, "workload": workload, "memory_mb": memory,
        "samples": samples,
        "stats": {
            "cold_init_ms": stat([s["init_ms"] for s in cold]),
            "cold_client_ms": stat([s["client_ms"] for s in cold]),
            "warm_duration_ms": stat([s["duration_ms"] for s in warm]),
            "warm_client_ms": stat([s["client_ms"] for s in warm]),
            "warm_billed_ms": stat([s["billed_ms"] for s in warm]),
            "max_memory_mb": max((s["max_memory_mb"] for s in ok), default=0),
            "cost_per_million_usd": sum(cost) / len(cost) if cost else 0,
            "errors": len(samples) - len(ok),
        },
        "notes": [],
    }


def decisions(cells):
    out = []
    rules = [("fastest cold start", lambda c: c["stats"]["cold_init_ms"]["p50"],
              lambda c: c["stats"]["cold_init_ms"]["count"] > 0, "ms"),
             ("fastest warm", lambda c: c["stats"]["warm_duration_ms"]["p50"],
              lambda c: c["stats"]["warm_duration_ms"]["count"] > 0, "ms"),
             ("cheapest per 1M invocations", lambda c: c["stats"]["cost_per_million_usd"],
              lambda c: c["stats"]["warm_duration_ms"]["count"] > 0, "USD"),
             ("lowest memory", lambda c: c["stats"]["max_memory_mb"],
              lambda c: c["stats"]["max_memory_mb"] > 0, "MB")]
    for workload in dict.fromkeys(c["workload"] for c in cells):
        for criterion, value, has, unit in rules:
            cands = [c for c in cells if c["workload"] == workload and has(c)]
            if not cands:
                continue
            best = min(cands, key=lambda c: (value(c), c["memory_mb"], c["runtime"]))
            out.append({"workload": workload, "criterion": criterion, "runtime": best["runtime"],
                        "memory_mb": best["memory_mb"], "value": value(best), "unit": unit})
    return out


def bench_doc():
    """2 runtimes x 2 memory sizes x 2 workloads, an AWS comparison, failed samples (one cell
    with no successful cold start at all) and hostile strings in notes and errors."""
    cells = []
    for runtime, base in (("python3.12", 95.0), ("nodejs22.x", 140.0)):
        for memory in (128, 1024):
            for workload, factor in (("hello", 1), ("cpu", 8)):
                speed = 1024 / memory
                cold = [base * factor * 0.1 * speed + k for k in (0, 3.5, 900)]  # one outlier
                warm = [0.9 * factor * speed + k * 0.1 for k in range(5)]
                error = None
                if (runtime, memory, workload) == ("python3.12", 128, "cpu"):
                    error = ("warm", "Sandbox.Timedout " + EVIL)
                cells.append(make_cell(runtime, workload, memory, cold, warm, error))
    # a cell whose cold starts all failed: no cold-start or cold-samples mark for it
    broken = make_cell("nodejs22.x", "cpu", 128, [], [3.0, 3.1], ("cold", "Runtime.ExitError"))
    at = next(i for i, c in enumerate(cells)
              if (c["runtime"], c["memory_mb"], c["workload"]) == ("nodejs22.x", 128, "cpu"))
    cells[at] = broken | {"notes": ["runtime exited during init " + EVIL]}
    doc = {
        "schema": "kindling.bench/1",
        "meta": {"generated_at": "2026-11-26T20:01:02Z", "kindling_version": "0.6.0",
                 "host": "bench-host", "kernel": "6.1.0-test", "cpus": 2,
                 "cpu_model": "Test CPU " + EVIL, "endpoint": "http://127.0.0.1:9000",
                 "cold_per_cell": 3, "warm_per_cell": 5,
                 "runtimes": ["python3.12", "nodejs22.x"], "memory_mb": [128, 1024],
                 "workloads": ["hello", "cpu"]},
        "pricing": PRICING,
        "cells": cells,
        "decisions": decisions(cells),
        "compare": {
            "source": "https://lambda-perf.example/last.json",
            "generated_at": "2026-08-22T14:00:43.227Z",
            "figures": [
                {"id": f"lambda-perf-{rt}-zip-{mb}-x86_64", "display": rt, "runtime": rt,
                 "memory_mb": mb, "architecture": "x86_64", "package": "zip",
                 "init_ms": [80.0 + i for i in range(10)], "init_ms_mean": mean,
                 "duration_ms_mean": 1.8, "max_memory_mb": 36.9}
                for rt, mb, mean in (("python3.12", 128, 85.226), ("python3.12", 1024, 81.0),
                                     ("nodejs22.x", 128, 140.5))
            ] + [{"id": "lambda-perf-unmapped", "display": "dotnet8", "runtime": None,
                  "memory_mb": 128, "architecture": "x86_64", "package": "zip",
                  "init_ms": [], "init_ms_mean": 200.0, "duration_ms_mean": 2.0,
                  "max_memory_mb": 60.0}],
        },
    }
    return doc


def tune_doc():
    points = []
    for memory, duration in ((128, 240.0), (256, 121.0), (512, 62.0), (1024, 33.0),
                             (2048, 31.0)):
        samples = [{"kind": "cold" if i == 0 else "warm", "init_ms": 150.0 if i == 0 else None,
                    "duration_ms": duration + i, "billed_ms": math.ceil(duration + i),
                    "max_memory_mb": 60, "client_ms": duration + 2, "error": None}
                   for i in range(4)]
        if memory == 2048:  # every invocation failed: not a data point
            for s in samples:
                s["error"] = "Sandbox.Timedout"
        cost = math.ceil(duration) / 1000 * memory / 1024 * PRICING["gb_second_usd"] \
            + PRICING["request_usd"]
        points.append({"memory_mb": memory, "samples": samples,
                       "average_duration_ms": duration + 1.5,
                       "average_billed_ms": math.ceil(duration) + 1, "average_cost_usd": cost,
                       "errors": 4 if memory == 2048 else 0})
    rec = points[2]
    return {
        "schema": "kindling.tune/1",
        "meta": {"generated_at": "2026-11-26T21:00:00Z", "kindling_version": "0.6.0",
                 "host": "tune-host", "cpus": 2, "endpoint": "http://127.0.0.1:9000",
                 "function": "my-fn", "payload": "{\"x\": \"" + EVIL + "\"}", "invocations": 4,
                 "discard_top_bottom": 0.2, "original_memory_mb": 128},
        "pricing": PRICING,
        "strategy": "balanced", "weight": 0.5,
        "points": points,
        "recommendation": {"memory_mb": rec["memory_mb"],
                           "average_duration_ms": rec["average_duration_ms"],
                           "average_cost_usd": rec["average_cost_usd"]},
        "applied": False,
    }


def render(tmp_path: Path, doc: dict, name: str) -> Path:
    if not kh.BIN.exists():
        pytest.fail(f"kindling binary not built: {kh.BIN}")
    tmp_path.mkdir(parents=True, exist_ok=True)
    src = tmp_path / "input.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "out"
    proc = subprocess.run([str(kh.BIN), "report", str(src), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = out / name
    assert path.is_file(), f"{path} not written: {proc.stdout}{proc.stderr}"
    return path


class StaticHtml(rd.HTMLParser):
    """The report as served (before any script ran): elements and script contents."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self.scripts, self._in_script = [], [], None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        self.elements.append((tag, a))
        if tag == "script":
            self._in_script = [a, ""]

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append(tuple(self._in_script))
            self._in_script = None


def assert_offline_and_contained(html: str, doc: dict):
    page = StaticHtml()
    page.feed(html)
    page.close()
    # exactly our two scripts: the data block and the chart code; the data is the whole document
    assert [a.get("type", "") for a, _ in page.scripts] == ["application/json", ""]
    data = json.loads(page.scripts[0][1])
    assert data["source"] == doc
    assert "http://" not in page.scripts[1][1] and "https://" not in page.scripts[1][1]
    for tag, attrs in page.elements:
        assert tag not in ("link", "img", "iframe", "object", "embed", "base"), tag
        assert attrs.get("id") != "pwned"
        for key in ("src", "href", "srcset", "action", "xlink:href", "poster"):
            if key in attrs:
                assert attrs[key].startswith("#"), f"<{tag} {key}={attrs[key]!r}>"
        assert "url(" not in attrs.get("style", "")
    assert "@import" not in html and "url(" not in html


def test_expected_counts_of_the_fixtures():
    # The independent counts themselves, so a wrong rule cannot make the browser test vacuous.
    assert rd.expected_marks(bench_doc()) == {
        "cold-start": 7 + 3,        # 8 cells, one with no ok cold start; 3 mapped AWS figures
        "cold-samples": 7 * 3,      # 3 cold samples per cell with cold data
        "warm-latency": 8, "duration-memory": 8, "cost-memory": 8, "max-memory": 8}
    assert rd.expected_marks(tune_doc()) == {"tune-duration": 4, "tune-cost": 4}


def test_bench_report_in_chromium(tmp_path):
    doc = bench_doc()
    path = render(tmp_path, doc, "report.html")
    html = path.read_text()
    assert_offline_and_contained(html, doc)
    dom = rd.assert_report_marks(path, doc)
    # AWS marks are their own series; hostile strings stayed text (no element, no title change)
    assert sum(m["data-series"] == "aws" for m in dom.charts["cold-start"]) == 3
    assert all(a.get("id") != "pwned" for _, a in dom.elements)
    # the decision table ends the report
    tables = [a.get("class", "") for t, a in dom.elements if t == "table"]
    assert tables[-1] == "decisions", tables
    assert "AWS (lambda-perf, 2026-08-22) vs local" in html


def test_tune_report_in_chromium(tmp_path):
    doc = tune_doc()
    path = render(tmp_path, doc, "tune.html")
    assert_offline_and_contained(path.read_text(), doc)
    dom = rd.assert_report_marks(path, doc)
    for chart in ("tune-duration", "tune-cost"):
        recommended = [m for m in dom.charts[chart] if "recommended" in m["class"].split()]
        assert [m["data-x"] for m in recommended] == ["512"], chart


def test_empty_matrix_renders(tmp_path):
    # A run where every requested runtime was unavailable: no cells, no decisions. (Mistyped
    # fields are the C++ unit tests' job: `kindling report` validates its input first.)
    doc = bench_doc()
    doc.update(cells=[], decisions=[], compare=None)
    path = render(tmp_path, doc, "report.html")
    assert_offline_and_contained(path.read_text(), doc)
    dom = rd.assert_report_marks(path, doc)
    assert all(len(dom.charts[c]) == 0 for c in rd.BENCH_CHARTS)
