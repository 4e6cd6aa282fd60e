#!/usr/bin/env python3
"""Cold Init Duration after the machine has been idle (issue 7; docs/design.md, "Fast start").

`kindling bench` takes its cold samples back to back. A developer's invoke usually comes after
a pause, and on a VM whose host reclaims idle guest memory (the Firecracker VMs measured here)
memory untouched for a second or more is slow to touch again: a cold start then costs what its
page faults cost. For each runtime and pause, each sample deploys a new hello function, waits
`pause` seconds with nothing running, and invokes it once (cold). Against two daemons: fast
start off (exec) and on (forks). Prints p50 (min, max) per cell; asserts nothing.

Usage: KINDLING_BIN=... scripts/bench-idle-cold.py [samples] [pauses, e.g. 0,1.5,5] [runtimes]
       (MODES=on: only the fast-start daemon)
"""
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "pylib"))
import kindling_harness as kh  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PAUSES = [float(p) for p in (sys.argv[2] if len(sys.argv) > 2 else "0,1.5,5").split(",")]
RUNTIMES = (sys.argv[3] if len(sys.argv) > 3 else "python3.11,python3.12,ruby3.1").split(",")
MODES = os.environ.get("MODES", "off,on").split(",")

SOURCES = {
    "python": ("app.py", "app.handler",
               "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello'}\n"),
    "ruby": ("app.rb", "app.handler",
             "def handler(event:, context:)\n  { statusCode: 200, body: 'hello' }\nend\n"),
}


def init_ms(log: str):
    m = re.search(r"Init Duration: ([0-9.]+) ms", kh.report_line(log))
    return float(m.group(1)) if m else None


def cell(d, runtime, pause, tag):
    file, handler, source = SOURCES["ruby" if runtime.startswith("ruby") else "python"]
    package = kh.make_zip({file: source})
    samples = []
    for i in range(N + 1):  # the first (zygote start, page cache) is not counted
        name = f"idle-{tag}-{runtime.replace('.', '-')}-{str(pause).replace('.', '-')}-{i}"
        d.deploy(name, package, runtime=runtime, handler=handler, memory=1769)
        time.sleep(pause if i else 1.0)
        r = d.invoke(name, {}, tail=True)
        ms = init_ms(r["log"])
        if i and ms is not None:
            samples.append(ms)
        d.http("DELETE", f"/2015-03-31/functions/{name}")
    return samples


def main():
    with tempfile.TemporaryDirectory(prefix="kindling-idle-") as tmp:
        results = {}
        for mode in MODES:
            d = kh.Daemon(Path(tmp) / f"data-{mode}", extra_args=["--fast-start", mode]).start()
            try:
                for runtime in RUNTIMES:
                    for pause in PAUSES:
                        results[(mode, runtime, pause)] = cell(d, runtime, pause, mode)
            finally:
                d.stop()
        print(f"cold Init Duration after a pause (ms, p50 (min-max) of {N}; fresh function each)")
        print(f"{'runtime':12} {'pause s':>7} {'fast start off':>24} {'fast start on':>24}")
        for runtime in RUNTIMES:
            for pause in PAUSES:
                row = []
                for mode in ("off", "on"):
                    s = results.get((mode, runtime, pause))
                    row.append(f"{statistics.median(s):7.2f} ({min(s):.2f}-{max(s):.2f})"
                               if s else "-")
                print(f"{runtime:12} {pause:7.1f} {row[0]:>24} {row[1]:>24}")
        print(json.dumps({f"{m}/{r}/{p}": v for (m, r, p), v in results.items()}))


if __name__ == "__main__":
    main()
