"""JSON-processing Python function for kindling (handler: app.handler).

The event is the shared document (examples/data/document.json): an array of
{id, category, value, tags} records. Returns
{"count": N, "by_category": {category: {"n": k, "sum": <sum of values, 2 decimals>}},
 "top3": [ids of the three largest values, largest first; ties by id]}.
"""
import heapq


def handler(event, context):
    if not isinstance(event, list):
        raise TypeError(f"the event must be an array of records, got {type(event).__name__}")
    by_category = {}
    for record in event:
        stats = by_category.get(record["category"])
        if stats is None:
            stats = by_category[record["category"]] = {"n": 0, "sum": 0.0}
        stats["n"] += 1
        stats["sum"] += record["value"]
    for stats in by_category.values():
        stats["sum"] = round(stats["sum"], 2)
    top3 = heapq.nsmallest(3, event, key=lambda r: (-r["value"], r["id"]))
    return {
        "count": len(event),
        "by_category": dict(sorted(by_category.items())),
        "top3": [r["id"] for r in top3],
    }
