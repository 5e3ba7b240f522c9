# katafleet undo helpers (uninstall): after apply.sh in every script that
# changes a host, since a revert or commit may settle an uninstall's
# transaction.

# Whether file $1 still hashes to $2 (`absent`: it does not exist), as when
# katafleet planned; says what it found otherwise.
kf_unchanged() {
    kf_now=absent
    [ -e "$1" ] && kf_now=$(sha256sum <"$1" | cut -d' ' -f1)
    [ "$kf_now" = "$2" ] && return 0
    echo "$1 changed since katafleet read it (sha256 $kf_now, not $2); run again to see the new plan"
    return 1
}

# The user's original back from its backup $2, which must hash to $3:
# byte-for-byte, with its mode and owner, atomically.
kf_put_back() {
    kf_unseen
    kf_now=$(sha256sum <"$2" 2>/dev/null | cut -d' ' -f1)
    if [ "$kf_now" != "$3" ]; then
        echo "the original katafleet saved, $2, is not what it read (sha256 ${kf_now:-missing}, not $3)"
        return 1
    fi
    kf_dir=$(dirname "$1")
    mkdir -p "$kf_dir" || return 1
    kf_tmp=$(mktemp "$kf_dir/.katafleet.XXXXXX") || return 1
    if ! cp -p "$2" "$kf_tmp"; then rm -f "$kf_tmp"; return 1; fi
    mv -f "$kf_tmp" "$1"
}

# Release trees out of /opt: each goes aside into /opt/.katafleet-removed
# until the run is verified (the commit deletes them, a revert puts them
# back). An /opt/kata without katafleet's marker, or not linked into its
# releases, is never touched. $1 = 1: the /opt/kata katafleet set aside
# when it first installed comes back.
kf_remove_trees() {
    kf_foreign=$1; shift
    for kf_t in "$@"; do
        [ -e "$kf_t" ] || [ -L "$kf_t" ] || continue
        if [ "$kf_t" = /opt/kata ] && [ ! -e /opt/kata/.katafleet-release ]; then
            case $(readlink /opt/kata) in
                /opt/kata-releases/* | kata-releases/*) ;;
                *) echo "/opt/kata is not katafleet's (there is no .katafleet-release in it), so it stays"; return 1 ;;
            esac
        fi
        mkdir -p /opt/.katafleet-removed || return 1
        kf_to="/opt/.katafleet-removed/$(basename "$kf_t")"
        rm -rf "$kf_to"
        mv "$kf_t" "$kf_to" || { echo "cannot move $kf_t aside"; return 1; }
        printf '%s\n' "$kf_t" >>"$KF_TXN/removed"
    done
    if [ "$kf_foreign" = 1 ] && [ -e /opt/kata.katafleet-orig ]; then
        if [ -e /opt/kata ] || [ -L /opt/kata ]; then
            echo "/opt/kata is still there, so /opt/kata.katafleet-orig cannot take its place"
            return 1
        fi
        mv /opt/kata.katafleet-orig /opt/kata || return 1
        : >"$KF_TXN/foreign-back"
    fi
}

# The trees kf_remove_trees moved, back where they were, as the
# transaction in $1 (default: this run's) recorded.
kf_trees_back() {
    kf_d=${1:-$KF_TXN}
    if [ -f "$kf_d/foreign-back" ]; then
        mv /opt/kata /opt/kata.katafleet-orig || return 1
        rm -f "$kf_d/foreign-back"
    fi
    if [ -f "$kf_d/removed" ]; then
        while IFS= read -r kf_t; do
            mv "/opt/.katafleet-removed/$(basename "$kf_t")" "$kf_t" || return 1
        done <"$kf_d/removed"
        rm -f "$kf_d/removed"
    fi
    rmdir /opt/.katafleet-removed 2>/dev/null
    return 0
}

# katafleet's state goes into the transaction (a revert puts it back); the
# commit then removes /var/lib/katafleet altogether, lock and all.
kf_forget() {
    mkdir -p "$KF_TXN/state" || return 1
    for kf_e in /var/lib/katafleet/* /var/lib/katafleet/.[!.]*; do
        case $kf_e in /var/lib/katafleet/lock | "$KF_TXN") continue ;; esac
        [ -e "$kf_e" ] || [ -L "$kf_e" ] || continue
        mv "$kf_e" "$KF_TXN/state/" || return 1
    done
    : >"$KF_TXN/forget"
}

# containerd's effective config must have none of the runtimes given.
kf_containerd_lacks() {
    kf_dump=$(kf_containerd_dump 2>&1) || { echo "containerd config dump failed: $kf_dump"; return 1; }
    for kf_h in "$@"; do
        case $kf_dump in
            *".runtimes.$kf_h]"*) echo "containerd's effective config still has runtime $kf_h"; return 1 ;;
        esac
    done
}

# dockerd must list none of the runtimes given (a reload takes a moment).
kf_docker_lacks() {
    have docker || return 0
    kf_n=0
    while :; do
        kf_listed=$(timeout 10 docker info --format '{{json .Runtimes}}' 2>&1)
        kf_left=""
        for kf_h in "$@"; do
            case $kf_listed in
                *"\"$kf_h\":"*) kf_left="$kf_left $kf_h" ;;
            esac
        done
        [ -z "$kf_left" ] && return 0
        kf_n=$((kf_n + 1))
        if [ "$kf_n" -ge 15 ]; then echo "dockerd still lists runtimes it should have dropped:$kf_left"; return 1; fi
        sleep 1
    done
}
