#!/usr/bin/env bash
# examples/java/build.sh: compiles the Java examples and packages them as users deploy them to
# AWS Lambda. Output: $1, else $KINDLING_EXAMPLES_OUT/java, else build/examples/java (beside the
# other languages' packages from scripts/build-examples.sh; gitignored):
#
#   hello.zip  json.zip  heavy-init.zip  stream.zip   classes at the root + lib/*.jar
#                                                     (aws-lambda-java-core, as Maven bundles it)
#   cpu.jar                                           a fat jar (its dependency unpacked inside)
#
# aws-lambda-java-core comes from Maven Central (`mvn dependency:copy`, cached in ~/.m2).
# Skips the work when the sources, this script and javac are unchanged (OUT/.stamp).
# Handlers: example.Hello (also example.Hello::fail), example.Cpu::handleRequest,
# example.Summary::handleRequest, example.HeavyInit::handleRequest, example.Echo (a
# RequestStreamHandler). Usage: examples/java/build.sh [OUT_DIR]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${1:-${KINDLING_EXAMPLES_OUT:-$REPO/build/examples}/java}"
CORE=com.amazonaws:aws-lambda-java-core:1.4.0
EXAMPLES=(hello cpu json heavy-init stream)
log() { printf 'java examples: %s\n' "$*"; }
die() { printf 'java examples: ERROR: %s\n' "$*" >&2; exit 1; }
command -v javac >/dev/null || die "javac not found"

stamp="$( { javac -version 2>&1; echo "$CORE"; sha256sum "$HERE/build.sh";
  find "$HERE" -name '*.java' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } \
  | sha256sum | cut -d' ' -f1)"
if [[ -f "$OUT/.stamp" && "$(cat "$OUT/.stamp")" == "$stamp" ]]; then
  log "up to date in $OUT"
  exit 0
fi
command -v mvn >/dev/null || die "mvn not found"
work="$(mktemp -d /tmp/kindling-java-examples.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/deps" "$OUT"
mvn -q -B dependency:copy -Dartifact="$CORE" -DoutputDirectory="$work/deps" >/dev/null \
  || die "mvn dependency:copy $CORE failed"
core_jar="$(ls "$work"/deps/*.jar)"

for ex in "${EXAMPLES[@]}"; do
  mkdir -p "$work/$ex/classes"
  javac --release 17 -Xlint:all -Werror -d "$work/$ex/classes" -cp "$core_jar" \
    $(find "$HERE/$ex/src" -name '*.java' | LC_ALL=C sort) || die "javac $ex failed"
  rm -f "$OUT/$ex.zip" "$OUT/$ex.jar"
  if [[ "$ex" == cpu ]]; then
    # Fat jar: the dependency's classes unpacked next to the function's own.
    (cd "$work/$ex/classes" && jar --extract --file "$core_jar" && rm -rf META-INF/maven)
    jar --create --date=1980-01-01T00:00:02Z --file "$OUT/$ex.jar" -C "$work/$ex/classes" .
  else
    mkdir -p "$work/$ex/classes/lib"
    cp "$core_jar" "$work/$ex/classes/lib/"
    jar --create --no-manifest --date=1980-01-01T00:00:02Z --file "$OUT/$ex.zip" \
      -C "$work/$ex/classes" .
  fi
done
printf '%s\n' "$stamp" > "$OUT/.stamp"
log "built $(cd "$OUT" && ls *.zip *.jar | tr '\n' ' ')in $OUT"
