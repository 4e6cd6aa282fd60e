"""Compat example for the official Python runtime interface client (awslambdaric), run as a
provided.al2023 bootstrap. Event {"name": str?, "fail": bool?, "pad": int?}: returns
{"message": "hello <name>"} (plus "pad": pad*"x" when pad > 0, for large-body framing
checks) or, when fail is true, raises HelloError."""


class HelloError(Exception):
    """The handler's own error type; awslambdaric reports its class name as errorType."""


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    name = event.get("name") or "world"
    if event.get("fail") is True:
        raise HelloError(f"fail requested for {name}")
    result = {"message": f"hello {name}"}
    pad = event.get("pad")
    if isinstance(pad, int) and not isinstance(pad, bool) and pad > 0:
        result["pad"] = "x" * pad
    return result
