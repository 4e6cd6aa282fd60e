"""Heavy-initialisation Python function for kindling (handler: app.handler).

AWS's "initialise outside the handler" lesson made measurable: at module load (the INIT phase,
billed once per environment) it builds a 30 MB lookup table, a sieve of Eratosthenes marking
every prime below 30,000,000 (one byte per number, 1 = prime). Each invocation only reads the
precomputed results, so warm invokes stay cheap.

Returns {"items": <primes below LIMIT>, "checksum": <first 16 hex digits of the table's
SHA-256>}; the Node example builds the same table, so both answer 1857859 / 73e4d3f1f56d29c3.
"""
import hashlib

LIMIT = 30_000_000


def _build_sieve(limit):
    sieve = bytearray(b"\x01") * limit
    sieve[0] = sieve[1] = 0
    for i in range(2, int(limit ** 0.5) + 1):
        if sieve[i]:
            # Clear every multiple of i from i*i on in one slice assignment.
            sieve[i * i::i] = bytes(len(range(i * i, limit, i)))
    return sieve


SIEVE = _build_sieve(LIMIT)
PRIME_COUNT = SIEVE.count(1)
CHECKSUM = hashlib.sha256(SIEVE).hexdigest()[:16]


def handler(event, context):
    return {"items": PRIME_COUNT, "checksum": CHECKSUM}
