// CPU-bound Node.js function for kindling, as an ES module (handler: index.handler).
// Returns the sum of i*i for i in 0..event.n-1, modulo 2^64, as a decimal string, computed in a
// plain loop (no closed form).
//
// Numbers are exact only up to 2^53, and BigInt arithmetic allocates on every operation, so the
// loop adds squares into a Number while the partial sum stays exact and folds it into a 64-bit
// BigInt only when the next square would overflow that range (once per ~1,000 steps for the
// n of the tests). Squares of i above 94,906,265 exceed 2^53 and go through BigInt directly.

const MAX_EXACT = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const MAX_EXACT_ROOT = 94906265; // floor(sqrt(2^53 - 1))

export const handler = async (event) => {
  const n = event?.n;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`n must be a non-negative integer, got ${JSON.stringify(n)}`);
  }
  let total = 0n;
  let partial = 0;
  const exactEnd = Math.min(n, MAX_EXACT_ROOT + 1);
  for (let i = 0; i < exactEnd; i++) {
    const square = i * i;
    if (partial > MAX_EXACT - square) {
      total = BigInt.asUintN(64, total + BigInt(partial));
      partial = 0;
    }
    partial += square;
  }
  total = BigInt.asUintN(64, total + BigInt(partial));
  for (let i = BigInt(exactEnd), end = BigInt(n); i < end; i++) {
    total = BigInt.asUintN(64, total + i * i);
  }
  return total.toString();
};
