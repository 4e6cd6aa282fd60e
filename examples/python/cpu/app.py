"""CPU-bound Python function for kindling (handler: app.handler).

Returns the sum of i*i for i in 0..event["n"]-1, modulo 2**64, as a decimal string. The loop is
deliberately a plain loop (no closed form), so the work grows linearly with n.
"""

MOD = 1 << 64


def handler(event, context):
    n = event.get("n") if isinstance(event, dict) else None
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    total = 0
    for i in range(n):
        total += i * i
    # Python integers are exact, so one reduction at the end equals reducing at every step.
    return str(total % MOD)
