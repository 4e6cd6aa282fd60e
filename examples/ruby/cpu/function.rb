# frozen_string_literal: true

# CPU-bound Ruby function for kindling (handler: function.handler).
#
# Returns the sum of i*i for i in 0..event["n"]-1, modulo 2**64, as a decimal string. A plain
# `while` loop (no closed form), reduced at every step so the sum stays a machine-sized Integer
# instead of growing into a Bignum: the work grows linearly with n.
MASK64 = (1 << 64) - 1

def handler(event:, context:)
  n = event.is_a?(Hash) ? event['n'] : nil
  raise ArgumentError, "n must be a non-negative integer, got #{n.inspect}" unless n.is_a?(Integer) && n >= 0

  total = 0
  i = 0
  while i < n
    total = (total + i * i) & MASK64
    i += 1
  end
  total.to_s
end
