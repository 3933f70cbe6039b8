#!/bin/sh
# Installs what pipeclf needs and is missing. Usage: setup.sh build|reference
#   build      Debian packages to compile and test the C programs
#   reference  also the Python reference tools used by benchmarks and goldens
# As root it runs apt-get itself; otherwise it prints the exact command and stops.
set -eu
what=${1:-build}

build_pkgs="gcc make pkg-config libcsv-dev libcjson-dev libstemmer-dev libpcre2-dev libopenblas-dev unicode-data libxml2-utils librsvg2-bin"
ref_pkgs="python3 python3-pip"
pkgs=$build_pkgs
[ "$what" = reference ] && pkgs="$build_pkgs $ref_pkgs"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
    cmd="apt-get install -y --no-install-recommends$missing"
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages:$missing" >&2
        echo "setup: run as root: apt-get update && $cmd" >&2
        exit 1
    fi
    echo "setup: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
fi

if [ "$what" = reference ]; then
    # The reference tools, pinned; used only by bench/ and tests/ref/, never at run time.
    python3 - <<'PY' 2>/dev/null || need_pip=1
from importlib.metadata import version
assert version('snowballstemmer') == '2.2.0' and version('PyStemmer') == '2.2.0.3'
PY
    if [ "${need_pip:-0}" = 1 ]; then
        echo "setup: installing the Python reference tools (pip)" >&2
        python3 -m pip install -q snowballstemmer==2.2.0 PyStemmer==2.2.0.3 >&2 ||
            python3 -m pip install -q --break-system-packages snowballstemmer==2.2.0 PyStemmer==2.2.0.3 >&2
    fi
fi
exit 0
