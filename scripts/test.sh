#!/usr/bin/env bash
# test.sh: the whole test suite. Runs the idempotent setup first, builds the official runtime
# clients for the compat tests and the compiled examples, then ctest: unit, integration, compat.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
./scripts/build-compat.sh
./scripts/build-examples.sh  # the Go, Rust and C++ examples (cached) for the integration tests

cd build
status=0
for label in unit integration compat; do
  echo "== ctest -L $label"
  ctest -L "$label" --output-on-failure -j1 --timeout 1800 || status=1
done
exit $status
