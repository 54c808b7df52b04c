#!/bin/sh
# kjv-corpus.sh OUT: writes the King James Bible (public domain), one verse
# per line without references, from Debian's bible-kjv package: the real
# corpus the main job trains on and the tests tokenize (4.1 MB).
set -eu
out=${1:?usage: kjv-corpus.sh OUT}
command -v bible >/dev/null 2>&1 || { echo "kjv-corpus.sh: needs Debian's bible-kjv package" >&2; exit 1; }
tmp="$out.tmp.$$"
bible -f gen1:1-rev22:21 < /dev/null | sed 's/^[A-Za-z0-9]*[0-9]:[0-9]* //' > "$tmp"
mv "$tmp" "$out"
