# katafleet apply helpers, files: atomic writes, the user's originals, and
# the keep directories a step's and a run's put-back reads. Appended to
# apply.sh in every script that changes a host (src/script/mod.rs).

# $1's directory made if missing, as $kf_dir (no fork when it exists:
# every step writes a few files).
kf_parent() {
    kf_dir=${1%/*}
    kf_dir=${kf_dir:-/}
    [ -d "$kf_dir" ] || mkdir -p "$kf_dir"
}

# The directories of all its arguments made, those missing in one mkdir.
# Each original argument is shifted off as the loop passes it; a missing
# directory goes on the end, so only those are left for mkdir.
kf_parents() {
    for kf_p in "$@"; do
        shift
        kf_dir=${kf_p%/*}
        [ -d "${kf_dir:-/}" ] || set -- "$@" "${kf_dir:-/}"
    done
    [ "$#" -eq 0 ] || mkdir -p "$@"
}

# rm -rf of its arguments once one of them exists (a symlink counts): what
# an earlier step or run may have left, which usually is nothing, and then
# this costs no fork. An unmatched glob stays as it is and does not exist.
kf_rm() {
    for kf_r in "$@"; do
        if [ -e "$kf_r" ] || [ -L "$kf_r" ]; then rm -rf "$@"; return; fi
    done
}

# Atomic write: temp file in the same directory, then rename. An existing
# file keeps its owner and mode. kf_put PATH MODE TEXT takes the content as
# it is (one quoted word, written by printf: no fork); kf_put_b64 PATH MODE
# BASE64 takes what a shell word cannot hold (a NUL byte).
kf_put() {
    kf_put_open "$1" || return 1
    if ! printf '%s' "$3" >>"$kf_tmp"; then rm -f "$kf_tmp"; return 1; fi
    kf_put_close "$1" "$2"
}

# A file only katafleet writes (its record): 644 and root's, whatever the
# one it replaces was, so nothing is copied from it.
kf_put_ours() {
    kf_put_open "$1" || return 1
    if ! printf '%s' "$2" >>"$kf_tmp"; then rm -f "$kf_tmp"; return 1; fi
    kf_put_close "$1" 644 ours
}

kf_put_b64() {
    kf_put_open "$1" || return 1
    if ! printf '%s' "$3" | base64 -d >>"$kf_tmp"; then rm -f "$kf_tmp"; return 1; fi
    kf_put_close "$1" "$2"
}

# An empty temp file beside $1, as $kf_tmp. Its name is this script's own
# and it is created exclusively (noclobber opens with O_EXCL), which costs
# no fork; mktemp only when that name is taken. Made by the shell under
# umask 022, it is 644 already. `true`, not `:`: a failed redirection of
# a special built-in such as `:` ends a non-interactive shell.
kf_seq=0
kf_put_open() {
    case $1 in /etc/containerd/*) kf_unseen ;; esac
    kf_parent "$1" || return 1
    kf_seq=$((kf_seq + 1))
    kf_tmp="$kf_dir/.katafleet.$$.$kf_seq" kf_tmp_mode=644
    if [ -e "$kf_tmp" ] || [ -L "$kf_tmp" ] || ! { set -C && true >"$kf_tmp"; } 2>/dev/null; then
        set +C
        kf_tmp=$(mktemp "$kf_dir/.katafleet.XXXXXX") || return 1
        kf_tmp_mode=600
    fi
    set +C
}

kf_put_close() {
    if [ -e "$1" ] && [ "${3:-}" != ours ]; then
        chmod --reference="$1" "$kf_tmp" 2>/dev/null || chmod "$2" "$kf_tmp"
        chown --reference="$1" "$kf_tmp" 2>/dev/null || true
    elif [ "$2" != "$kf_tmp_mode" ]; then
        chmod "$2" "$kf_tmp"
    fi
    mv -f "$kf_tmp" "$1"
}

# The user's original is saved the first time katafleet edits a file, never again.
kf_backup_once() {
    kf_b="/var/lib/katafleet/backup$1"
    if [ -e "$1" ] && [ ! -e "$kf_b" ]; then
        kf_parent "$kf_b" && cp -p "$1" "$kf_b"
    fi
}

# A file's state before this step touches it (for kf_revert), and before
# this run touched it (the transaction: put back if verification fails).
kf_keep() {
    if [ ! -e "$KF_TXN/keep$1" ] && [ ! -e "$KF_TXN/keep$1.absent" ]; then
        # Both keep directories in one mkdir: each costs a fork.
        kf_parents "$KF_RUN/keep$1" "$KF_TXN/keep$1" || return 1
        kf_save "$KF_RUN/keep" "$1" || return 1
        kf_save "$KF_TXN/keep" "$1" && printf '%s\n' "$1" >>"$KF_TXN/paths"
    else
        kf_save "$KF_RUN/keep" "$1"
    fi
}

kf_save() {
    kf_k="$1$2"
    kf_parent "$kf_k" || return 1
    if [ -e "$kf_k" ] || [ -L "$kf_k" ] || [ -e "$kf_k.absent" ]; then rm -f "$kf_k" "$kf_k.absent"; fi
    if [ -e "$2" ]; then cp -p "$2" "$kf_k"; else : >"$kf_k.absent"; fi
}

# Puts files back as kept under $1 (a keep directory), byte-for-byte.
kf_restore() {
    kf_dir=$1; shift
    kf_unseen
    for kf_p in "$@"; do
        kf_k="$kf_dir$kf_p"
        if [ -e "$kf_k.absent" ]; then
            rm -f "$kf_p"
        elif [ -e "$kf_k" ]; then
            cp -p "$kf_k" "$kf_p.katafleet-revert" && mv -f "$kf_p.katafleet-revert" "$kf_p"
        fi
    done
}

kf_revert() { kf_restore "$KF_RUN/keep" "$@"; }
