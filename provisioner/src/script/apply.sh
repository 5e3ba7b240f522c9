# katafleet apply helpers: after the prelude in every script that changes
# a host.
set -u
umask 022
KF_RUN=$(mktemp -d) || { kf_report 0 failed "cannot create a temporary directory"; exit 1; }
trap 'rm -rf "$KF_RUN"' EXIT

# Atomic write: temp file in the same directory, then rename. An existing
# file keeps its owner and mode.
kf_put() {
    kf_dir=$(dirname "$1")
    mkdir -p "$kf_dir" || return 1
    kf_tmp=$(mktemp "$kf_dir/.katafleet.XXXXXX") || return 1
    if ! printf '%s' "$3" | base64 -d >"$kf_tmp"; then rm -f "$kf_tmp"; return 1; fi
    if [ -e "$1" ]; then
        chmod --reference="$1" "$kf_tmp" 2>/dev/null || chmod "$2" "$kf_tmp"
        chown --reference="$1" "$kf_tmp" 2>/dev/null || true
    else
        chmod "$2" "$kf_tmp"
    fi
    mv -f "$kf_tmp" "$1"
}

# The user's original is saved the first time katafleet edits a file, never again.
kf_backup_once() {
    kf_b="/var/lib/katafleet/backup$1"
    if [ -e "$1" ] && [ ! -e "$kf_b" ]; then
        mkdir -p "$(dirname "$kf_b")" && cp -p "$1" "$kf_b"
    fi
}

# Remember a file's state before this run touches it, for kf_revert.
kf_keep() {
    kf_k="$KF_RUN/keep$1"
    mkdir -p "$(dirname "$kf_k")"
    rm -f "$kf_k" "$kf_k.absent"
    if [ -e "$1" ]; then cp -p "$1" "$kf_k"; else : >"$kf_k.absent"; fi
}

kf_revert() {
    for kf_p in "$@"; do
        kf_k="$KF_RUN/keep$kf_p"
        if [ -e "$kf_k.absent" ]; then
            rm -f "$kf_p"
        elif [ -e "$kf_k" ]; then
            cp -p "$kf_k" "$kf_p.katafleet-revert" && mv -f "$kf_p.katafleet-revert" "$kf_p"
        fi
    done
}

# Restart a unit only if it is running; report why not otherwise.
kf_restart() {
    if ! command -v systemctl >/dev/null 2>&1 || [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ]; then
        KF_RESTART_NOTE="no systemd here: restart $1 yourself"
        return 0
    fi
    if ! systemctl is-active --quiet "$1"; then
        KF_RESTART_NOTE="$1 is not running, so it was not restarted"
        return 0
    fi
    KF_RESTART_NOTE=""
    # A restart of containerd may already have restarted dependants; clear
    # the start-rate counter so this deliberate restart is not refused.
    systemctl reset-failed "$1" 2>/dev/null
    systemctl restart "$1" 2>&1
}

# Install a verified release: payload of $2 bytes on stdin must hash to $3.
kf_install() {
    kf_id=$1 kf_size=$2 kf_sha=$3 kf_decomp=$4 kf_shim=$5 kf_marker=$6 kf_foreign=$7
    mkdir -p /opt || { kf_report "$kf_id" failed "cannot create /opt"; return 1; }
    kf_stage=$(mktemp -d /opt/.katafleet-stage.XXXXXX) || { kf_report "$kf_id" failed "cannot create a staging directory in /opt"; return 1; }
    head -c "$kf_size" >"$kf_stage/asset"
    kf_got=$(wc -c <"$kf_stage/asset")
    if [ "$kf_got" -ne "$kf_size" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "received $kf_got of $kf_size bytes of the release; nothing was installed"; return 1
    fi
    kf_actual=$(sha256sum "$kf_stage/asset" | cut -d' ' -f1)
    if [ "$kf_actual" != "$kf_sha" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "checksum mismatch: expected sha256 $kf_sha, got $kf_actual; nothing was extracted"; return 1
    fi
    mkdir "$kf_stage/root"
    if ! kf_out=$(tar --no-same-owner -x -f "$kf_stage/asset" -C "$kf_stage/root" --use-compress-program="$kf_decomp" 2>&1); then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "extracting the release failed: $kf_out"; return 1
    fi
    if [ ! -x "$kf_stage/root$kf_shim" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "the release has no executable $kf_shim; nothing was installed"; return 1
    fi
    printf '%s' "$kf_marker" | base64 -d >"$kf_stage/root/opt/kata/.katafleet-release"
    kf_aside="$kf_stage/previous"
    if [ "$kf_foreign" = 1 ] && [ ! -e /opt/kata.katafleet-orig ]; then kf_aside=/opt/kata.katafleet-orig; fi
    if [ -d /opt/kata ] && ! mv /opt/kata "$kf_aside"; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "cannot move the old /opt/kata aside; nothing changed"; return 1
    fi
    if ! mv "$kf_stage/root/opt/kata" /opt/kata; then
        [ -d "$kf_aside" ] && mv "$kf_aside" /opt/kata
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "cannot move the new release into /opt/kata; the old one is back"; return 1
    fi
    rm -rf "$kf_stage"
}
