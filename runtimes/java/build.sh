#!/usr/bin/env bash
# runtimes/java/build.sh: builds kindling's Java runtime into DEST (default
# /opt/kindling/sdk/java, which the engine binds into sandboxes with the rest of the SDK tree):
#
#   DEST/kindling-java-runtime.jar   the runtime (javac --release 17: runs on java17 and java25)
#   DEST/lib/*.jar                   its Maven Central dependencies (deps.txt), fetched with
#                                    `mvn dependency:copy` (cached in ~/.m2)
#   DEST/cds/<jdk>.jsa               an application class-data-sharing archive of the runtime per
#                                    JDK 17+ under /usr/lib/jvm (-XX:ArchiveClassesAtExit over the
#                                    --cds-training workload); the engine passes it with
#                                    -XX:SharedArchiveFile when the runtime is at this same path
#   DEST/.stamp                      hash of the inputs (JDK versions included); an unchanged
#                                    build is skipped
#
# Usage: runtimes/java/build.sh [--force] [DEST]. Needs javac (17+) and mvn.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FORCE=0
DEST=""
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -*) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    *) DEST="$arg" ;;
  esac
done
DEST="${DEST:-${KINDLING_PREFIX:-/opt/kindling}/sdk/java}"
JAVAC="${KINDLING_JAVAC:-javac}"
log() { printf 'java runtime: %s\n' "$*"; }
die() { printf 'java runtime: ERROR: %s\n' "$*" >&2; exit 1; }
command -v "$JAVAC" >/dev/null || die "javac not found (apt-get install openjdk-17-jdk-headless)"

# The JDKs that get a CDS archive: Debian's and Temurin's, Java 17 or newer.
jdks=()
for java in /usr/lib/jvm/java-*-openjdk-*/bin/java /usr/lib/jvm/temurin-*-jdk*/bin/java; do
  [[ -x "$java" && ! -L "$(dirname "$(dirname "$java")")" ]] || continue
  major="$(basename "$(dirname "$(dirname "$java")")" | sed -E 's/^(java|temurin)-([0-9]+)-.*/\2/')"
  [[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] && jdks+=("$java")
done

stamp="$( { "$JAVAC" -version 2>&1; for java in "${jdks[@]}"; do "$java" -version 2>&1; done
  cat "$HERE/deps.txt" "$HERE/build.sh";
  find "$HERE/src" -name '*.java' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } \
  | sha256sum | cut -d' ' -f1)"
if [[ "$FORCE" != 1 && -f "$DEST/.stamp" && "$(cat "$DEST/.stamp")" == "$stamp" \
      && -f "$DEST/kindling-java-runtime.jar" ]]; then
  log "up to date at $DEST"
  exit 0
fi
command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"

work="$(mktemp -d /tmp/kindling-java-runtime.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib" "$work/classes"
while read -r coord; do
  [[ -z "$coord" || "$coord" == \#* ]] && continue
  mvn -q -B dependency:copy -Dartifact="$coord" -DoutputDirectory="$work/lib" \
    -Dmdep.overWriteReleases=true >/dev/null || die "mvn dependency:copy $coord failed"
done < "$HERE/deps.txt"
# -XDstringConcat=inline: string concatenation as StringBuilder calls, not invokedynamic, whose
# first use bootstraps method handles and spins LambdaForm classes no archive holds (measured:
# 5 of the 16 classes a hello cold start still defined at run time).
"$JAVAC" --release 17 -XDstringConcat=inline -Xlint:all -Werror -g -d "$work/classes" -cp "$work/lib/*" \
  $(find "$HERE/src" -name '*.java' | LC_ALL=C sort) || die "javac failed"
(cd "$work/classes" && jar --create --file "$work/kindling-java-runtime.jar" \
  --date=1980-01-01T00:00:02Z .) || die "jar failed"
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.new"
mkdir -p "$DEST.new"
cp -r "$work/lib" "$work/kindling-java-runtime.jar" "$DEST.new/"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
log "built $DEST/kindling-java-runtime.jar ($(ls "$DEST/lib" | tr '\n' ' '))"

# CDS archives: written against the final classpath (archives record it), with the flags the
# engine starts functions with (runtime_catalog.cc), so that they validate at launch.
mkdir -p "$DEST/cds"
for java in "${jdks[@]}"; do
  name="$(basename "$(dirname "$(dirname "$java")")")"
  if "$java" -XX:ArchiveClassesAtExit="$DEST/cds/$name.jsa" -XX:+UseSerialGC \
      -XX:+TieredCompilation -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
      -Djava.net.preferIPv4Stack=true -Dfile.encoding=UTF-8 -Xlog:cds=off -Xlog:cds+dynamic=off \
      -cp "$DEST/kindling-java-runtime.jar:$DEST/lib/*" dev.kindling.lambda.Bootstrap \
      --cds-training >"$work/cds-$name.log" 2>&1 && [[ -s "$DEST/cds/$name.jsa" ]]; then
    log "CDS archive for $name: $(du -h "$DEST/cds/$name.jsa" | cut -f1)"
  else
    rm -f "$DEST/cds/$name.jsa"
    log "WARNING: no CDS archive for $name (cold starts are slower): $(tail -n 3 "$work/cds-$name.log")"
  fi
done
printf '%s\n' "$stamp" > "$DEST/.stamp"
