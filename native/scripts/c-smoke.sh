#!/bin/sh
# Compiles native/tests/c_abi_smoke.c with the system C compiler and runs it against
# native/lib/libtasker_native.so (build it first: node native/build.mjs).
# With TASKER_DATABASE_URL set (a migrated database), it also runs a real core's life cycle.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-gcc}
lib=${1:-$here/lib/libtasker_native.so}
if [ ! -f "$lib" ]; then
  echo "no library at $lib: run node native/build.mjs first" >&2
  exit 1
fi
"$cc" -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -I"$here/include" -o "$here/tests/c_abi_smoke" "$here/tests/c_abi_smoke.c" -ldl
exec "$here/tests/c_abi_smoke" "$lib"
