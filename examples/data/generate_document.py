#!/usr/bin/env python3
"""Writes examples/data/document.json: the ~100 KB event of the `json` example in every runtime.

Deterministic (fixed seed), so every checkout holds the same document and the expected answer
below never changes. Run: python3 examples/data/generate_document.py > examples/data/document.json
"""
import json
import random
import sys

CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
TAGS = ["red", "green", "blue", "fast", "slow", "new", "old", "hot", "cold", "big", "small"]


def document(count=1300, seed=20261126):
    rng = random.Random(seed)
    records = []
    for i in range(count):
        records.append({
            "id": f"rec-{i:05d}",
            "category": rng.choice(CATEGORIES),
            # Two decimals, so every language parses the same binary double.
            "value": round(rng.uniform(0, 10000), 2),
            "tags": rng.sample(TAGS, rng.randint(1, 4)),
        })
    return records


def expected(records):
    """The `json` example's answer, the reference every runtime's output is compared with."""
    by = {}
    for r in records:
        c = by.setdefault(r["category"], {"n": 0, "sum": 0.0})
        c["n"] += 1
        c["sum"] += r["value"]
    for c in by.values():
        c["sum"] = round(c["sum"], 2)
    top3 = [r["id"] for r in sorted(records, key=lambda r: (-r["value"], r["id"]))[:3]]
    return {"count": len(records), "by_category": dict(sorted(by.items())), "top3": top3}


if __name__ == "__main__":
    json.dump(document(), sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
