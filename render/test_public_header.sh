#!/bin/sh
# test_public_header.sh - strike-worker and strike-render use the engine through its public
# header only: no quoted #include of an engine-internal header (a path with engine/src, or one
# of the engine's source folders: core/ cpu/ cuda/ io/ model/ text/ sample/ pipeline/).
# Usage: test_public_header.sh SOURCE_ROOT
root=${1:?source root}
bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*engine/src/|(\.\./)*(core|cpu|cuda|io|model|text|sample|pipeline)/)' \
  "$root"/worker/*.c "$root"/worker/*.h "$root"/render/*.c 2>/dev/null)
if [ -n "$bad" ]; then
  echo "engine-internal includes in the worker or strike-render (use strike/engine.h):"
  echo "$bad"
  exit 1
fi
n=$(cat "$root"/worker/*.c "$root"/worker/*.h "$root"/render/*.c | grep -c '#include "strike/engine.h"')
[ "$n" -ge 2 ] || { echo "expected strike/engine.h includes in the worker and strike-render, found $n"; exit 1; }
echo "public header only: passed ($n files include strike/engine.h)"
