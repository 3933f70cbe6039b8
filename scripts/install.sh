#!/bin/sh
# make install and make uninstall.
#   scripts/install.sh install BUILD DEST     DEST = $(DESTDIR)$(PREFIX)
#   scripts/install.sh uninstall DEST
# install puts under DEST:
#   bin/                      the programs of BUILD/bin
#   lib/libpipeclf_cuda.so    the GPU code, when BUILD has it (the programs
#                             open it from ../lib beside their own directory)
#   share/man/man1/           the man pages
#   share/pipeclf/data/       the shipped data (stopword lists), found by the
#                             programs from their own location (lib/core/datadir.h)
#   share/pipeclf/pipelines/  the studies' make files and their scripts,
#   share/pipeclf/scripts/    with the same layout as the source tree
# and lists every file it wrote and every directory it made, relative to
# DEST, in share/pipeclf/install-manifest. uninstall removes those files and
# then those directories when they are empty: what install wrote, nothing else.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
manifest_rel=share/pipeclf/install-manifest
usage() { echo "usage: install.sh install BUILD DEST | uninstall DEST" >&2; exit 2; }

record() { printf '%s %s\n' "$1" "$2" >>"$new"; }

# make_dir REL: DEST/REL and any missing parent below DEST, each recorded
make_dir() {
    [ -d "$dest/$1" ] && return 0
    case $1 in */*) make_dir "${1%/*}" ;; esac
    mkdir "$dest/$1"
    record d "$1"
}

# DEST itself and its missing parents, recorded as ".", "..", ... (outermost first)
make_dest() {
    d=$dest up=. made=""
    while [ ! -d "$d" ]; do
        made="$up $made"
        d=$(dirname "$d")
        up=$([ "$up" = . ] && echo .. || echo "../$up")
    done
    mkdir -p "$dest"
    for u in $made; do record d "$u"; done
}

# put MODE FILE DIR_REL: FILE into DEST/DIR_REL
put() {
    make_dir "$3"
    install -m "$1" "$2" "$dest/$3/"
    record f "$3/$(basename "$2")"
}

do_install() {
    build=$1
    dest=$2
    [ -x "$build/bin/csvclean" ] || { echo "install: no programs in $build/bin (run make first)" >&2; exit 1; }
    new=$(mktemp)
    # the manifest is written even when a copy fails, so that uninstall can
    # take back a partial install
    trap 'write_manifest; rm -f "$new"' EXIT
    make_dest
    for p in "$build"/bin/*; do put 755 "$p" bin; done
    [ -f "$build/lib/libpipeclf_cuda.so" ] && put 755 "$build/lib/libpipeclf_cuda.so" lib
    for m in "$src"/man/*.1; do put 644 "$m" share/man/man1; done
    for d in "$src"/data/stopwords/*; do put 644 "$d" share/pipeclf/data/stopwords; done
    for f in "$src"/pipelines/*; do
        case $f in *.sh) put 755 "$f" share/pipeclf/pipelines ;; *) put 644 "$f" share/pipeclf/pipelines ;; esac
    done
    put 755 "$src/scripts/fetch_model.sh" share/pipeclf/scripts
    echo "install: $(grep -c '^f ' "$new") files under $dest (listed in $dest/$manifest_rel)" >&2
}

# An earlier install's entries stay listed, so that uninstall after two
# installs still removes the directories the first one made.
write_manifest() {
    [ -s "$new" ] || return 0
    make_dir share/pipeclf
    record f "$manifest_rel"
    old="$dest/$manifest_rel"
    { [ -f "$old" ] && cat "$old"; cat "$new"; } | awk '!seen[$0]++' >"$new.all"
    mv "$new.all" "$old"
    chmod 644 "$old"
}

# DEST/REL as a path that exists without what is below it: ".." is DEST's
# parent by name, not DEST/.. (which needs DEST)
dest_path() {
    p=$dest r=$1
    while :; do
        case $r in
            .) break ;;
            ..) p=$(dirname "$p"); break ;;
            ../*) p=$(dirname "$p"); r=${r#../} ;;
            *) p=$p/$r; break ;;
        esac
    done
    printf '%s\n' "$p"
}

do_uninstall() {
    dest=$1
    list="$dest/$manifest_rel"
    [ -f "$list" ] || { echo "uninstall: no $list (nothing installed there by make install)" >&2; exit 1; }
    grep '^f ' "$list" | cut -c3- | while IFS= read -r f; do
        [ "$f" = "$manifest_rel" ] || rm -f "$dest/$f"
    done
    dirs=$(grep '^d ' "$list" | cut -c3- | awk '{ a[NR] = $0 } END { for (i = NR; i > 0; i--) print a[i] }')
    n=$(grep -c '^f ' "$list")
    rm -f "$list"
    # deepest first: the reverse of the order install made them
    printf '%s\n' "$dirs" | while IFS= read -r d; do
        [ -n "$d" ] && rmdir "$(dest_path "$d")" 2>/dev/null || true
    done
    echo "uninstall: removed $n files from $dest" >&2
}

case ${1:-} in
    install) [ $# -eq 3 ] || usage; do_install "$2" "$3" ;;
    uninstall) [ $# -eq 2 ] || usage; do_uninstall "$2" ;;
    *) usage ;;
esac
