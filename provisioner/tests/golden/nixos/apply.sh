# katafleet prelude: every script sent to a host starts with this. It
# defines the one wire protocol (see src/script/wire.rs): every line the
# controller reads starts with `@@`.
export LC_ALL=C
PATH=/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
have() { command -v "$1" >/dev/null 2>&1; }
kf_oneline() { printf '%s' "$1" | tr '\n' ' '; }

# @@kv KEY VALUE: one value, newlines folded.
# Most values are one line already: those cost no fork.
kf_kv() {
    case $2 in
        *"
"*) printf '@@kv %s %s\n' "$1" "$(kf_oneline "$2")" ;;
        *) printf '@@kv %s %s\n' "$1" "$2" ;;
    esac
}

# @@file NAME, base64 of the file, @@end; nothing when it is not readable.
kf_file() {
    if [ -f "$2" ] && [ -r "$2" ]; then
        echo "@@file $1"
        base64 <"$2"
        echo "@@end"
    fi
}

# @@block NAME EXIT, base64 of the command's output (at most 256 KiB), @@end.
kf_block() {
    kf_name=$1; shift
    kf_f=$(mktemp) || return 1
    "$@" >"$kf_f" 2>&1
    kf_rc=$?
    echo "@@block $kf_name $kf_rc"
    head -c 262144 "$kf_f" | base64
    echo "@@end"
    rm -f "$kf_f"
    return "$kf_rc"
}

# Apply steps: @@begin N when step N starts, @@step N STATUS MSG when it ends
# (STATUS: changed, ok, warn, failed); @@warn MSG for a problem that does not
# fail the step.
kf_begin() { printf '@@begin %s\n' "$1"; }
kf_report() { printf '@@step %s %s %s\n' "$1" "$2" "$(kf_oneline "$3" | cut -c1-3000)"; }
kf_warn() { printf '@@warn %s\n' "$(kf_oneline "$1" | cut -c1-3000)"; }

# NixOS: the NIX_PATH its login shells get from /etc/set-environment (sudo
# and plain `sh -c` may start without it), so that `<nixpkgs>` and
# `<nixos-config>` resolve as they do for nixos-rebuild. Only NIX_PATH is
# taken over, from a subshell.
kf_nixos_env() {
    [ -z "${NIX_PATH:-}" ] && [ -r /etc/set-environment ] || return 0
    # shellcheck source=/dev/null
    kf_np=$(set +u; . /etc/set-environment >/dev/null 2>&1; printf '%s' "${NIX_PATH:-}")
    if [ -n "$kf_np" ]; then NIX_PATH=$kf_np; export NIX_PATH; fi
}

# The warnings in a Nix evaluation's output ($1): lib.warn's `trace:
# warning:` and Nix's own `warning:`/`evaluation warning:`, each with its
# continuation lines, colour codes removed; one per line, each once.
kf_nix_warnings() {
    kf_esc=$(printf '\033')
    sed "s/$kf_esc\[[0-9;]*m//g" "$1" 2>/dev/null | awk '
        /^(trace: )?(evaluation )?warning: / {
            if (w != "") print w
            w = $0; sub(/^(trace: )?(evaluation )?warning: /, "", w); next
        }
        w != "" && ($0 ~ /^[ \t]*$/ || $0 ~ /^(trace|error|building|these|copying|activating):? /) { print w; w = ""; next }
        w != "" { w = w " " $0 }
        END { if (w != "") print w }' | sed 's/[[:space:]][[:space:]]*/ /g; s/ $//' | awk '!seen[$0]++'
}

# katafleet apply helpers: after the prelude in every script that changes
# a host.
set -u
umask 022
# A controller that went away (killed, or its connection lost) must not cut
# a step in half: without it, the next line printed would kill this script
# with SIGPIPE. The script runs on to its end (and the host's own deadline
# still stops it); the next run settles what it left.
trap '' PIPE
KF_RUN=$(mktemp -d) || { kf_report 0 failed "cannot create a temporary directory"; exit 1; }
trap 'rm -rf "$KF_RUN"' EXIT

# One run at a time per host: every script that changes something holds
# this lock until it exits (the kernel drops it if the script is killed).
mkdir -p /var/lib/katafleet || { kf_report 0 failed "cannot create /var/lib/katafleet"; exit 1; }
if have flock; then
    exec 9>>/var/lib/katafleet/lock
    # The NixOS rollback deadline (KF_LOCK_WAIT set) waits for a run in
    # flight; a run started by the controller fails fast instead.
    kf_lock_how=-n
    [ -n "${KF_LOCK_WAIT:-}" ] && kf_lock_how="-w $KF_LOCK_WAIT"
    # shellcheck disable=SC2086 # one option, or an option and its number
    if ! flock $kf_lock_how 9; then
        kf_report 0 failed "another katafleet run is changing this host right now (it holds /var/lib/katafleet/lock); nothing was changed: run again once it has finished"
        exit 1
    fi
else
    kf_warn "flock is missing here, so nothing stops two katafleet runs from changing this host at once"
fi
KF_TXN=/var/lib/katafleet/txn
# Written by the NixOS rollback deadline when it put a system back.
KF_DEADLINE_FIRED=/var/lib/katafleet/nixos-deadline-fired
KF_RELEASES=/opt/kata-releases

# $1's directory made if missing, as $kf_dir (no fork when it exists:
# every step writes a few files).
kf_parent() {
    kf_dir=${1%/*}
    kf_dir=${kf_dir:-/}
    [ -d "$kf_dir" ] || mkdir -p "$kf_dir"
}

# Atomic write: temp file in the same directory, then rename. An existing
# file keeps its owner and mode.
kf_put() {
    case $1 in /etc/containerd/*) kf_unseen ;; esac
    kf_parent "$1" || return 1
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
        kf_parent "$kf_b" && cp -p "$1" "$kf_b"
    fi
}

# A file's state before this step touches it (for kf_revert), and before
# this run touched it (the transaction: put back if verification fails).
kf_keep() {
    kf_save "$KF_RUN/keep" "$1"
    if [ ! -e "$KF_TXN/keep$1" ] && [ ! -e "$KF_TXN/keep$1.absent" ]; then
        kf_save "$KF_TXN/keep" "$1" && printf '%s\n' "$1" >>"$KF_TXN/paths"
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

# This run's transaction: what it changed, kept until the controller has
# verified the host (then committed) or found it wrong (then put back). A
# transaction an interrupted run left is settled by this run's own.
kf_txn_begin() {
    # An activated NixOS system waiting for its commit or revert is never
    # dropped: the planner settles it first (a plan of its own).
    if [ -f "$KF_TXN/nixos" ]; then
        kf_report 0 failed "a NixOS activation an earlier run started is still pending ($(tr '\n' ' ' <"$KF_TXN/nixos")); nothing was changed: run katafleet again, and it settles that first"
        exit 1
    fi
    rm -rf "$KF_TXN" /opt/.katafleet-removed "$KF_DEADLINE_FIRED"
    mkdir -p "$KF_TXN/keep" || { kf_report 0 failed "cannot create $KF_TXN"; exit 1; }
    kf_save "$KF_TXN/keep" /var/lib/katafleet/manifest.json
}

# Verified. On NixOS the activated system becomes the boot default first;
# if that fails, the record stays, so the next run sees the activation still
# pending. An uninstall's transaction takes all of /var/lib/katafleet with
# it (and the trees it set aside); a run that switched releases keeps its
# transaction as the record `katafleet rollback` undoes; any other run's goes.
kf_txn_commit() {
    if [ ! -d "$KF_TXN" ]; then
        # Only the rollback deadline takes a transaction away unasked.
        [ -f "$KF_DEADLINE_FIRED" ] || return 0
        echo "the commit came too late: the host-side rollback deadline had run out and acted first ($(tr '\n' ' ' <"$KF_DEADLINE_FIRED")); the host runs its previous system"
        return 1
    fi
    if [ -f "$KF_TXN/nixos" ]; then
        kf_nixos_disarm
        kf_sys=$(kf_nixos_get system)
        if [ ! -x "$kf_sys/bin/switch-to-configuration" ]; then echo "the activated system ${kf_sys:-(none recorded)} is gone"; return 1; fi
        if ! nix-env -p /nix/var/nix/profiles/system --set "$kf_sys" >"$KF_RUN/profile.log" 2>&1; then
            echo "nix-env --set $kf_sys on the system profile failed, so the host still boots its previous system (the activation stays pending, and the next run settles it): $(tail -n 10 "$KF_RUN/profile.log")"
            return 1
        fi
        "$kf_sys/bin/switch-to-configuration" boot >"$KF_RUN/boot.log" 2>&1
        kf_st=$?
        if [ "$kf_st" -ne 0 ]; then
            echo "$kf_sys is the system profile now, but its switch-to-configuration boot exited $kf_st, so the boot loader may still start the previous system (the activation stays pending, and the next run settles it): $(tail -n 10 "$KF_RUN/boot.log")"
            return 1
        fi
    fi
    rm -rf /opt/.katafleet-removed
    if [ -e "$KF_TXN/forget" ]; then
        rm -rf /var/lib/katafleet
    elif [ -f "$KF_TXN/tree" ]; then
        rm -rf /var/lib/katafleet/last-upgrade && mv "$KF_TXN" /var/lib/katafleet/last-upgrade && kf_prune_releases
    else
        rm -rf "$KF_TXN"
    fi
}

# Not verified: every file back byte-for-byte, then the release tree, the
# record and the group memberships; then the daemons run with it all again.
kf_txn_revert() { kf_undo "$KF_TXN"; }

# Undoes the transaction recorded in $1 (this run's, or the last upgrade's
# for `rollback`, which passes $2 = keep so the release it leaves stays):
# every file back byte-for-byte, then the release, the record and the group
# memberships; then the daemons run with it all again. On NixOS the system
# that ran before comes back through its own switch-to-configuration test,
# whose exit status counts.
kf_undo() {
    [ -d "$1" ] || { echo "no change of this run is left to put back"; return 1; }
    if [ -f "$1/paths" ]; then
        # shellcheck disable=SC2046 # one path per line, none with spaces
        kf_restore "$1/keep" $(cat "$1/paths") || return 1
    fi
    kf_switch_back "$1" "${2:-}" || return 1
    kf_trees_back "$1" || return 1
    if [ -d "$1/state" ]; then
        for kf_e in "$1"/state/* "$1"/state/.[!.]*; do
            [ -e "$kf_e" ] || [ -L "$kf_e" ] || continue
            mv "$kf_e" /var/lib/katafleet/ || return 1
        done
    fi
    kf_restore "$1/keep" /var/lib/katafleet/manifest.json || return 1
    if [ -f "$1/groups" ]; then
        while read -r kf_u kf_g; do gpasswd -d "$kf_u" "$kf_g" >/dev/null 2>&1; done <"$1/groups"
    fi
    if [ -f "$1/groups-deleted" ]; then
        while read -r kf_g kf_gid; do groupadd -r ${kf_gid:+-g "$kf_gid"} "$kf_g" >/dev/null 2>&1; done <"$1/groups-deleted"
    fi
    if [ -f "$1/groups-removed" ]; then
        while read -r kf_u kf_g; do usermod -aG "$kf_g" "$kf_u" >/dev/null 2>&1; done <"$1/groups-removed"
    fi
    kf_rc=0
    if [ -f "$1/nixos" ]; then
        kf_prev=$(sed -n 's/^previous=//p' "$1/nixos" | head -n 1)
        kf_nixos_disarm "$1/nixos"
        if [ -z "$kf_prev" ]; then
            echo "the files are back, but no previous system is recorded to reactivate"; kf_rc=1
        else
            kf_nixos_back "$kf_prev" || kf_rc=1
        fi
    fi
    if grep -qx containerd "$1/services" 2>/dev/null && kf_running containerd; then
        kf_containerd_restart 0 || { echo "containerd did not come back with the old configuration"; kf_rc=1; }
    fi
    if grep -qx docker "$1/services" 2>/dev/null && kf_running docker; then
        kf_docker_back || kf_rc=1
    fi
    rm -rf "$1"
    return "$kf_rc"
}

# `katafleet rollback`: back to before the last upgrade, as this run's own
# transaction (so a rollback that fails verification is undone in turn).
kf_rollback() {
    kf_from=/var/lib/katafleet/last-upgrade
    [ -f "$kf_from/tree" ] || { echo "no upgrade of this host is recorded, so there is nothing to roll back"; return 1; }
    if [ -f "$kf_from/paths" ]; then
        while IFS= read -r kf_p; do kf_keep "$kf_p" || return 1; done <"$kf_from/paths"
    fi
    kf_was=$(sed -n '2p' "$kf_from/tree")
    if [ -L /opt/kata ]; then
        # Undoing the rollback switches back to the current release; none goes.
        printf 'new \nlink %s\n' "$(readlink /opt/kata)" >"$KF_TXN/tree"
    fi
    cp "$kf_from/services" "$KF_TXN/services" 2>/dev/null
    case $kf_was in
        "link "*) kf_undo "$kf_from" keep ;;
        *) echo "the last upgrade replaced a tree katafleet keeps no release of ($kf_was); rolling back is not possible here"; return 1 ;;
    esac
}

# Whether $1 runs under systemd here; KF_NOTE says why not otherwise.
kf_running() {
    KF_NOTE=""
    if ! have systemctl || [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ]; then
        KF_NOTE="no systemd here: make $1 re-read its configuration yourself"
        return 1
    fi
    if ! systemctl is-active --quiet "$1"; then
        KF_NOTE="$1 is not running; it reads the new configuration when it starts"
        return 1
    fi
}

# What the last health check saw of containerd ($KF_RUN/seen-*), which the
# facts probe at the end of the same script reads instead of asking again;
# a write to containerd's configuration after it, or any file put back,
# makes it stale.
kf_unseen() {
    [ -e "$KF_RUN/seen-dump" ] || [ -e "$KF_RUN/seen-cri" ] || return 0
    rm -f "$KF_RUN/seen-dump" "$KF_RUN/seen-cri"
}

# containerd's effective config; with no config file, its built-in
# defaults (containerd 1.7 cannot `config dump` without one).
kf_containerd_dump() {
    if [ -e /etc/containerd/config.toml ]; then
        timeout 30 containerd config dump
    else
        timeout 30 containerd config default
    fi
}

# containerd: restart (running containers survive: the unit has
# KillMode=process), then it must answer, load its CRI plugin when $1 = 1,
# and show every handler after $1 in `config dump`. Prints why not.
kf_containerd_restart() {
    kf_cri=$1; shift
    kf_unseen
    # A deliberate restart must not be refused by systemd's start-rate limit.
    systemctl reset-failed containerd 2>/dev/null
    timeout 90 systemctl restart containerd 2>&1 || return 1
    have ctr || return 0
    # The plugin list is the first answer on the socket and, with $1 = 1,
    # what says whether CRI loaded: one Go process per try.
    kf_n=0
    until kf_plugins=$(timeout 5 ctr plugins ls 2>/dev/null); do
        kf_n=$((kf_n + 1))
        if [ "$kf_n" -ge 30 ]; then echo "containerd does not answer on its socket after the restart"; return 1; fi
        sleep 1
    done
    if [ "$kf_cri" = 1 ]; then
        kf_n=0
        while :; do
            kf_state=$(printf '%s\n' "$kf_plugins" | awk '($1 == "io.containerd.grpc.v1" && $2 == "cri") || ($1 == "io.containerd.cri.v1" && $2 == "runtime") { print $NF; exit }')
            [ "$kf_state" = ok ] && { echo ok >"$KF_RUN/seen-cri"; break; }
            kf_n=$((kf_n + 1))
            if [ "$kf_n" -ge 10 ]; then
                echo "containerd's CRI plugin did not load (${kf_state:-absent}): $(timeout 10 ctr plugins ls -d id==cri 2>&1; timeout 10 ctr plugins ls -d id==runtime 2>&1)"
                return 1
            fi
            sleep 1
            kf_plugins=$(timeout 10 ctr plugins ls 2>/dev/null)
        done
    fi
    if ! kf_containerd_dump >"$KF_RUN/seen-dump" 2>"$KF_RUN/dump.err"; then
        echo "containerd config dump failed: $(cat "$KF_RUN/dump.err")"
        kf_unseen
        return 1
    fi
    kf_dump=$(cat "$KF_RUN/seen-dump")
    # Without a config file the dump was `config default`, not the probe's.
    [ -e /etc/containerd/config.toml ] || rm -f "$KF_RUN/seen-dump"
    for kf_h in "$@"; do
        case $kf_dump in
            *".runtimes.$kf_h]"*) ;;
            *) echo "containerd's effective config has no runtime $kf_h"; return 1 ;;
        esac
    done
}

# Docker after its old daemon.json is back: reloaded again, or at least
# still running (a refused reload leaves dockerd on its old configuration).
kf_docker_back() {
    kf_docker_reload >/dev/null 2>&1 && return 0
    systemctl is-active --quiet docker && return 0
    echo "dockerd is not running"
    return 1
}

# Docker: SIGHUP re-reads `runtimes` without stopping a container (a restart
# would stop them all); then `docker info` must list every handler given.
kf_docker_reload() {
    timeout 30 systemctl reload docker 2>&1 || return 1
    have docker || return 0
    kf_n=0
    while :; do
        kf_listed=$(timeout 10 docker info --format '{{json .Runtimes}}' 2>&1)
        kf_missing=""
        for kf_h in "$@"; do
            case $kf_listed in
                *"\"$kf_h\":"*) ;;
                *) kf_missing="$kf_missing $kf_h" ;;
            esac
        done
        [ -z "$kf_missing" ] && return 0
        kf_n=$((kf_n + 1))
        if [ "$kf_n" -ge 15 ]; then echo "dockerd did not take the new runtimes (missing:$kf_missing): $kf_listed"; return 1; fi
        sleep 1
    done
}

# Install a verified release: payload of $2 bytes on stdin must hash to $3.
kf_install() {
    kf_id=$1 kf_size=$2 kf_sha=$3 kf_decomp=$4 kf_shim=$5 kf_marker=$6 kf_foreign=$7 kf_extracted=$8 kf_rel=$9 kf_url=${10}
    mkdir -p /opt || { kf_report "$kf_id" failed "cannot create /opt"; return 1; }
    # Staging left by a run that was killed; no other run is here (the lock).
    rm -rf /opt/.katafleet-stage.*
    # The release and its extracted tree sit in staging, plus a margin; the
    # previous tree is only renamed. Checked before a byte is written.
    kf_need=$(( (kf_size + kf_extracted) / 1048576 + 64 ))
    kf_free=$(df -Pk /opt 2>/dev/null | awk 'NR == 2 { print int($4 / 1024) }')
    if [ -n "$kf_free" ] && [ "$kf_free" -lt "$kf_need" ]; then
        kf_report "$kf_id" failed "not enough space on the filesystem of /opt: ${kf_free} MiB free, ${kf_need} MiB needed; nothing was written"
        return 1
    fi
    kf_stage=$(mktemp -d /opt/.katafleet-stage.XXXXXX) || { kf_report "$kf_id" failed "cannot create a staging directory in /opt"; return 1; }
    if ! mkdir "$kf_stage/root"; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "cannot prepare $kf_stage"; return 1
    fi
    # Into staging, hashed, and only then extracted: tar never reads a byte
    # that is not the pinned release, and with many hosts on few cores this
    # costs less CPU than hashing in the same pass through pipes (measured:
    # bench/NOTES.md). OpenSSL's SHA-256 uses the CPU's SHA extensions, a
    # quarter of sha256sum's time; both print the digest first.
    kf_release_bytes >"$kf_stage/asset"
    if kf_why=$(kf_download_failed); then rm -rf "$kf_stage"; kf_report "$kf_id" failed "$kf_why; nothing was installed"; return 1; fi
    kf_got=$(stat -c %s "$kf_stage/asset" 2>/dev/null)
    if [ "${kf_got:-0}" -ne "$kf_size" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "the release stream broke off after ${kf_got:-0} of $kf_size bytes (a truncated stream); nothing was installed"; return 1
    fi
    if have openssl; then kf_actual=$(openssl dgst -sha256 -r "$kf_stage/asset"); else kf_actual=$(sha256sum "$kf_stage/asset"); fi
    kf_actual=${kf_actual%% *}
    if [ "$kf_actual" != "$kf_sha" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "checksum mismatch: expected sha256 $kf_sha, got $kf_actual (another file, or the transfer was cut off); nothing was installed"; return 1
    fi
    if ! kf_out=$(tar --no-same-owner -x -f "$kf_stage/asset" -C "$kf_stage/root" --use-compress-program="$kf_decomp" 2>&1); then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "extracting the release failed (not a release archive): $kf_out; nothing was installed"; return 1
    fi
    rm -f "$kf_stage/asset"
    if [ ! -x "$kf_stage/root$kf_shim" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "the release has no executable $kf_shim; nothing was installed"; return 1
    fi
    printf '%s' "$kf_marker" | base64 -d >"$kf_stage/root/opt/kata/.katafleet-release"
    kf_release="$KF_RELEASES/$kf_rel"
    if [ "$(readlink /opt/kata 2>/dev/null)" = "kata-releases/$kf_rel" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "$kf_release is already the current release, yet its marker differs; remove it and run again"; return 1
    fi
    rm -rf "$kf_release"
    if ! mkdir -p "$KF_RELEASES" || ! mv "$kf_stage/root/opt/kata" "$kf_release"; then
        rm -rf "$kf_stage" "$kf_release"; kf_report "$kf_id" failed "cannot move the new release into $KF_RELEASES; nothing changed"; return 1
    fi
    rm -rf "$kf_stage"
    if ! kf_out=$(kf_switch "$kf_rel" "$kf_foreign" 2>&1); then
        kf_switch_back "$KF_TXN" >/dev/null 2>&1
        kf_report "$kf_id" failed "cannot switch /opt/kata to the new release, so the old one is back: $kf_out"; return 1
    fi
}

# The release's bytes for kf_install, never more than $kf_size of them: what
# follows the script on stdin (streamed by the controller), or, with a URL
# (fetch = "host"), downloaded by this host. Either way kf_install writes
# them into staging and hashes them before anything is extracted.
kf_release_bytes() {
    if [ -z "$kf_url" ]; then head -c "$kf_size"; return; fi
    { kf_download "$kf_url" "$kf_size" 2>"$kf_stage/download.err"; echo $? >"$kf_stage/download.rc"; } | head -c "$kf_size"
}

# kf_download URL MAX_BYTES: the URL's body on stdout, with curl or wget
# (GNU or busybox). 20 s to connect; a transfer that stalls for 60 s fails
# (busybox wget has no timeouts: the step timeout bounds it).
kf_download() {
    if have curl; then
        curl -fsSL --proto '=http,https' --connect-timeout 20 --speed-limit 1 --speed-time 60 --max-filesize "$2" "$1"
    elif wget --version 2>/dev/null | grep -q 'GNU Wget'; then
        wget -q -O - --tries=1 --connect-timeout=20 --read-timeout=60 "$1"
    else
        wget -q -O - "$1"
    fi
}

# Why a host-side download failed, when it did (the bytes that arrived
# were wrong or cut off because of it).
kf_download_failed() {
    [ -n "$kf_url" ] || return 1
    kf_rc=$(cat "$kf_stage/download.rc" 2>/dev/null)
    [ "$kf_rc" != 0 ] || return 1
    echo "downloading $kf_url on this host failed (exit ${kf_rc:-unknown}): $(head -c 400 "$kf_stage/download.err" 2>/dev/null)"
}

# Releases live side by side in /opt/kata-releases, and /opt/kata is a
# symlink to one of them, switched with one rename: there is no moment
# without a usable /opt/kata, and a running shim's tree stays where it is.
# kf_switch ID FOREIGN records in the transaction how to switch back.
kf_switch() {
    echo "new $1" >"$KF_TXN/tree"
    if [ -L /opt/kata ]; then
        echo "link $(readlink /opt/kata)" >>"$KF_TXN/tree"
    elif [ -d /opt/kata ]; then
        # A tree katafleet did not install is set aside once; one it did
        # (before releases lived side by side) is kept beside them.
        if [ "$2" = 1 ] && [ ! -e /opt/kata.katafleet-orig ]; then kf_old=/opt/kata.katafleet-orig; else kf_old="$KF_RELEASES/previous-dir"; rm -rf "$kf_old"; fi
        mv /opt/kata "$kf_old" || return 1
        echo "dir $kf_old" >>"$KF_TXN/tree"
    else
        echo none >>"$KF_TXN/tree"
    fi
    ln -sfn "kata-releases/$1" /opt/.kata.new && mv -T /opt/.kata.new /opt/kata
}

# Switches /opt/kata back as the tree record in $1 says; the release that
# run brought goes (a running shim keeps its open files) unless $2 = keep.
kf_switch_back() {
    [ -f "$1/tree" ] || return 0
    kf_new=$(sed -n 's/^new //p' "$1/tree")
    kf_was=$(sed -n '2p' "$1/tree")
    case $kf_was in
        "link "*) ln -sfn "${kf_was#link }" /opt/.kata.new && mv -T /opt/.kata.new /opt/kata || return 1 ;;
        "dir "*) rm -f /opt/kata && mv "${kf_was#dir }" /opt/kata || return 1 ;;
        none) rm -f /opt/kata ;;
    esac
    if [ "${2:-}" != keep ] && [ -n "$kf_new" ] && [ "$kf_was" != "link kata-releases/$kf_new" ]; then rm -rf "${KF_RELEASES:?}/$kf_new"; fi
}

# Whether any process runs a program from the tree $1.
kf_busy() {
    for kf_e in /proc/[0-9]*/exe; do
        case $(readlink "$kf_e" 2>/dev/null) in "$1"/*) return 0 ;; esac
    done
    return 1
}

# Releases other than the current one and the one `rollback` returns to go,
# unless a process still runs from one.
kf_prune_releases() {
    kf_cur="/opt/$(readlink /opt/kata 2>/dev/null)"
    kf_keep_too=$(sed -n 's/^link /\/opt\//p; s/^dir //p' /var/lib/katafleet/last-upgrade/tree 2>/dev/null)
    for kf_d in "$KF_RELEASES"/*; do
        [ -d "$kf_d" ] || continue
        [ "$kf_d" = "$kf_cur" ] || [ "$kf_d" = "$kf_keep_too" ] || kf_busy "$kf_d" || rm -rf "$kf_d"
    done
}

# What katafleet owns, recorded after every step that changed something:
# atomic (temp file + rename) and synced, so no interruption loses it. A
# record that cannot be written fails the run, loudly.
kf_record() {
    if ! kf_out=$(kf_put "$2" 644 "$3" 2>&1) || ! { sync "$2" 2>/dev/null || sync; }; then
        kf_report "$1" failed "step $1 is done, but what katafleet owns could not be recorded in $2: $kf_out"
        exit 1
    fi
}
# katafleet NixOS helpers: after apply.sh in every script that changes a
# host (the commit and revert of a transaction settle an activation too).

# NixOS: a field of the pending activation's record ($KF_TXN/nixos).
kf_nixos_get() { sed -n "s/^$1=//p" "$KF_TXN/nixos" 2>/dev/null | head -n 1; }

# The units systemd lists as failed, on one line.
kf_failed_units() {
    kf_units=$(systemctl --failed --no-legend --plain 2>/dev/null | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')
    echo "${kf_units:-systemctl lists none}"
}

# NixOS, step $1: build the system from the files just written (the paths
# after $1, put back on any failure) once, and activate exactly that store
# path with its switch-to-configuration test. The store path and the system
# that ran before go into $KF_TXN/nixos first, so the activation stays
# pending until the controller commits or reverts it (kf_txn_commit,
# kf_txn_revert), also when this run is cut off. Evaluation, build and
# activation failures (and exit 4: activated, but some unit failed) are told
# apart; the module's warnings become the run's.
kf_nixos_activate() {
    kf_id=$1; kf_deadline=$2; shift 2
    kf_nixos_env
    kf_prev=$(readlink -f /run/current-system 2>/dev/null)
    if [ -z "$kf_prev" ] || [ ! -x "$kf_prev/bin/switch-to-configuration" ]; then
        kf_revert "$@"
        kf_report "$kf_id" failed "/run/current-system is no NixOS system to come back to, so nothing was built; the previous files are back"
        return 1
    fi
    # The derivation and its result are garbage collector roots until the
    # transaction ends.
    if ! nix-instantiate '<nixpkgs/nixos>' -A system --add-root "$KF_TXN/nixos-system.drv" >/dev/null 2>"$KF_RUN/eval.log"; then
        kf_revert "$@"
        kf_report "$kf_id" failed "the new NixOS configuration does not evaluate (nix-instantiate '<nixpkgs/nixos>' -A system), so nothing was built or activated and the previous files are back: $(tail -n 15 "$KF_RUN/eval.log")"
        return 1
    fi
    kf_drv=$(readlink -f "$KF_TXN/nixos-system.drv")
    kf_nix_warnings "$KF_RUN/eval.log" | while IFS= read -r kf_w; do kf_warn "NixOS evaluation: $kf_w"; done
    if ! nix-store --realise "$kf_drv" --add-root "$KF_TXN/nixos-system" >/dev/null 2>"$KF_RUN/build.log"; then
        kf_revert "$@"
        kf_report "$kf_id" failed "building the new NixOS system ($kf_drv) failed, so nothing was activated and the previous files are back: $(tail -n 15 "$KF_RUN/build.log")"
        return 1
    fi
    kf_sys=$(readlink -f "$KF_TXN/nixos-system")
    if [ ! -x "$kf_sys/bin/switch-to-configuration" ]; then
        kf_revert "$@"
        kf_report "$kf_id" failed "the build of $kf_drv gave ${kf_sys:-no path}, which has no bin/switch-to-configuration; nothing was activated and the previous files are back"
        return 1
    fi
    if [ "$kf_sys" = "$kf_prev" ]; then
        rm -f "$KF_TXN/nixos-system" "$KF_TXN/nixos-system.drv"
        kf_report "$kf_id" changed "wrote the NixOS configuration; it builds the running system $kf_sys, so there was nothing to activate"
        return 0
    fi
    if ! printf 'system=%s\nprevious=%s\nstate=testing\n' "$kf_sys" "$kf_prev" >"$KF_TXN/nixos"; then
        kf_revert "$@"
        kf_report "$kf_id" failed "cannot record the activation in $KF_TXN/nixos; nothing was activated and the previous files are back"
        return 1
    fi
    sync "$KF_TXN/nixos" 2>/dev/null || sync
    "$kf_sys/bin/switch-to-configuration" test >"$KF_RUN/activate.log" 2>&1
    kf_st=$?
    if [ "$kf_st" -ne 0 ]; then
        kf_revert "$@"
        kf_back=$(kf_nixos_back "$kf_prev")
        rm -f "$KF_TXN/nixos" "$KF_TXN/nixos-system" "$KF_TXN/nixos-system.drv"
        if [ "$kf_st" -eq 4 ]; then
            kf_report "$kf_id" failed "the new system $kf_sys was activated, but some units failed (switch-to-configuration test exited 4; failed: $(kf_failed_units); $(tail -n 5 "$KF_RUN/activate.log")); $kf_back"
        else
            kf_report "$kf_id" failed "activating the new system $kf_sys failed (switch-to-configuration test exited $kf_st: $(tail -n 15 "$KF_RUN/activate.log")); $kf_back"
        fi
        return 1
    fi
    kf_armed=$(kf_nixos_arm "$kf_deadline")
    printf 'system=%s\nprevious=%s\nstate=tested\narmed=%s\n' "$kf_sys" "$kf_prev" "$kf_armed" >"$KF_TXN/nixos"
    sync "$KF_TXN/nixos" 2>/dev/null || sync
    if [ -z "$kf_armed" ]; then
        kf_warn "the host-side rollback deadline could not be armed (neither systemd-run nor setsid worked), so a host whose controller goes away now keeps the new system until the next run settles it"
    fi
    kf_report "$kf_id" changed "built $kf_sys once and activated it with switch-to-configuration test; it becomes the boot default once the host is verified, and goes back by itself unless that is confirmed within $kf_deadline s"
}

# NixOS: the host's own way back after `test` ("magic rollback", as in
# deploy-rs). Unless a commit or revert disarms it within $1 seconds (the
# controller vanished, or the new system broke sshd so that its fresh
# connection for the commit fails), the deadline script the apply step wrote
# to $KF_RUN/deadline.sh reverts this transaction, under the host lock.
# Prints the id it was armed with (nothing: it could not be armed). Prefers
# a transient systemd timer, which outlives any SSH session and login.
kf_nixos_arm() {
    kf_aid=$(date +%s)-$$
    kf_dscript=/var/lib/katafleet/nixos-deadline-$kf_aid.sh
    cp "$KF_RUN/deadline.sh" "$kf_dscript" 2>/dev/null || return 0
    kf_sh=$(command -v sh)
    if have systemd-run && systemd-run --quiet --unit "katafleet-nixos-deadline-$kf_aid" --on-active="$1" \
        --timer-property=AccuracySec=1s "$kf_sh" "$kf_dscript" "$kf_aid" >/dev/null 2>&1; then
        echo "$kf_aid"
        return 0
    fi
    # No systemd manager to ask: a process in a session of its own, holding
    # none of this script's descriptors (the lock, the SSH channel).
    have setsid || { rm -f "$kf_dscript"; return 0; }
    # shellcheck disable=SC2016 # expanded by that process's own sh
    setsid sh -c 'echo $$ >"$1.pid"; sleep "$2"; exec sh "$1" "$3"' kf_deadline "$kf_dscript" "$1" "$kf_aid" \
        </dev/null >>/var/lib/katafleet/nixos-deadline.log 2>&1 9>&- &
    # The pid file is how a commit stops the sleeping deadline.
    kf_w=0
    while [ ! -s "$kf_dscript.pid" ] && [ "$kf_w" -lt 50 ]; do sleep 0.1; kf_w=$((kf_w + 1)); done
    echo "$kf_aid"
}

# NixOS: the deadline armed for the activation recorded in $1 (default
# $KF_TXN/nixos) goes: its timer or sleeping process stops, its script goes.
kf_nixos_disarm() {
    kf_aid=$(sed -n 's/^armed=//p' "${1:-$KF_TXN/nixos}" 2>/dev/null | head -n 1)
    [ -n "$kf_aid" ] || return 0
    kf_dscript=/var/lib/katafleet/nixos-deadline-$kf_aid.sh
    if [ -s "$kf_dscript.pid" ]; then kill "$(cat "$kf_dscript.pid")" 2>/dev/null; fi
    if have systemctl; then systemctl stop "katafleet-nixos-deadline-$kf_aid.timer" >/dev/null 2>&1; fi
    rm -f "$kf_dscript" "$kf_dscript.pid"
}

# NixOS: back to the system that ran before ($1), through its own
# switch-to-configuration test. Says what happened; fails unless it is fully back.
kf_nixos_back() {
    "$1/bin/switch-to-configuration" test >"$KF_RUN/back.log" 2>&1
    kf_bst=$?
    case $kf_bst in
        0) echo "rolled back to $1 (its switch-to-configuration test exited 0), with the previous files" ;;
        4) echo "rolled back to $1 with the previous files, but some units failed (its switch-to-configuration test exited 4; failed: $(kf_failed_units))"; return 1 ;;
        *) echo "rolling back to $1 FAILED (its switch-to-configuration test exited $kf_bst: $(tail -n 10 "$KF_RUN/back.log")): the host may still run the new system; the boot default is unchanged"; return 1 ;;
    esac
}
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
# katafleet: end of the helpers
kf_txn_begin

kf_begin 1
kf_keep '/etc/nixos/katafleet-module.nix'
kf_keep '/etc/nixos/katafleet-defaults.json'
kf_keep '/etc/nixos/katafleet.nix'
if ! { kf_put '/etc/nixos/katafleet-module.nix' 644 IyBOaXhPUyBtb2R1bGU6IHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycwojCiMgV2lyZXMgbml4cGtncycgYGthdGEtcnVudGltZWAgaW50byBjb250YWluZXJkIGFuZC9vciBEb2NrZXIuIEV2ZXJ5dGhpbmcgaXQKIyBoYW5kcyB0byBhIGNvbnRhaW5lciBtYW5hZ2VyIGlzIGEgc3RvcmUgcGF0aDogdGhlIHNoaW0sIGFuZCBhIGNvbmZpZ3VyYXRpb24KIyBkaXJlY3RvcnkgYnVpbHQgZnJvbSB0aGUgcGFja2FnZSdzIHNoaXBwZWQgY29uZmlndXJhdGlvbiBwbHVzIGEgYGNvbmZpZy5kYAojIGRyb3AtaW4gcmVuZGVyZWQgZnJvbSBgc2V0dGluZ3NgLiBOb3RoaW5nIGxhbmRzIGluIC9vcHQsIGFuZCB0aGUgZGVmYXVsdAojIHJ1bnRpbWUgb2YgY29udGFpbmVyZCBvciBEb2NrZXIgaXMgbmV2ZXIgdG91Y2hlZC4KIwojIEZhY3RzIHRoaXMgbW9kdWxlIHJlbGllcyBvbiAoY2hlY2tlZCBhZ2FpbnN0IHRoZSBzb3VyY2VzIG5hbWVkIGhlcmUpOgojIC0gbml4cGtncycga2F0YS1ydW50aW1lID49IDQuMCBpcyBydW50aW1lLXJzLCBidWlsdCB3aXRoCiMgICBgQklORElSPSRvdXQvYmluYDogdGhlIHNoaW0gaXMgYCRvdXQvYmluL2NvbnRhaW5lcmQtc2hpbS1rYXRhLXYyYCBhbmQgdGhlCiMgICBjb25maWd1cmF0aW9ucyBhcmUgYCRvdXQvc2hhcmUvZGVmYXVsdHMva2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvKi50b21sYAojICAgKHBrZ3MvYnktbmFtZS9rYS9rYXRhLXJ1bnRpbWUvcGFja2FnZS5uaXg7IHNyYy9ydW50aW1lLXJzL01ha2VmaWxlKS4KIyAgIEJlZm9yZSA0LjAgaXQgaXMgdGhlIEdvIHJ1bnRpbWUgYnVpbHQgd2l0aCBIWVBFUlZJU09SUz1xZW11OiBzYW1lIHNoaW0KIyAgIHBhdGgsIG9uZSBjb25maWd1cmF0aW9uIGF0IGAkb3V0L3NoYXJlL2RlZmF1bHRzL2thdGEtY29udGFpbmVycy8KIyAgIGNvbmZpZ3VyYXRpb24tcWVtdS50b21sYCwgcGx1cyB0aGUgYGthdGEtcnVudGltZWAgYmluYXJ5LgojIC0gcnVudGltZS1ycyBidWlsZHMgY29uZmlndXJhdGlvbnMgZm9yIHFlbXUsIGRyYWdvbmJhbGwgKGJ1aWx0IGludG8gdGhlCiMgICBzaGltKSBhbmQgZmlyZWNyYWNrZXIgb24geDg2XzY0IGFuZCBhYXJjaDY0LCBhbmQgZm9yIGNsb3VkLWh5cGVydmlzb3Igb24KIyAgIHg4Nl82NCBvbmx5IChzcmMvcnVudGltZS1ycy9hcmNoLyotb3B0aW9ucy5taykuIFRoZSBuaXhwa2dzIHBhY2thZ2UgcG9pbnRzCiMgICBxZW11IGF0IGl0cyBvd24gcWVtdV9rdm07IGNsb3VkLWh5cGVydmlzb3IgYW5kIGZpcmVjcmFja2VyIGNvbmZpZ3VyYXRpb25zCiMgICBzdGlsbCBuYW1lIGAkb3V0L2Jpbi88dm1tPmAsIHdoaWNoIHRoZSBwYWNrYWdlIGRvZXMgbm90IGNvbnRhaW4sIHNvIHRoaXMKIyAgIG1vZHVsZSBwb2ludHMgdGhlbSBhdCBuaXhwa2dzJyBjbG91ZC1oeXBlcnZpc29yIGFuZCBmaXJlY3JhY2tlci4KIyAtIEJvdGggcnVudGltZXMgY2Fub25pY2FsaXNlIHRoZSBjb25maWd1cmF0aW9uIHBhdGggKHN5bWxpbmtzIHJlc29sdmVkKQojICAgYW5kIHRoZW4gbWVyZ2UgYGNvbmZpZy5kLyoudG9tbGAgbmV4dCB0byBpdCBpbiBuYW1lIG9yZGVyOyBydW50aW1lLXJzCiMgICByZWplY3RzIGEgZHJvcC1pbiB0aGF0IGlzIGEgc3ltbGluayAoa2F0YS10eXBlcyBjb25maWcvZHJvcF9pbi5ycykuIFNvIHRoZQojICAgc2hpcHBlZCBmaWxlIGFuZCB0aGUgZHJvcC1pbiBhcmUgKmNvcGllZCogaW50byBvbmUgc3RvcmUgZGlyZWN0b3J5LgojIC0gS2F0YSdzIG93biBtaW5pbXVtIGd1ZXN0IG1lbW9yeTogNjQgTWlCIGZvciBxZW11LCBjbG91ZC1oeXBlcnZpc29yIGFuZAojICAgZHJhZ29uYmFsbCwgMTI4IE1pQiBmb3IgZmlyZWNyYWNrZXIgKGthdGEtdHlwZXMgY29uZmlnL2RlZmF1bHQucnMpLgojCiMgVGhlIHBlci1oeXBlcnZpc29yIGZhY3RzIGFib3ZlIChmaWxlIG5hbWVzLCBzeXN0ZW1zLCBzaG9ydCBuYW1lcywgbWluaW11bQojIG1lbW9yeSksIHRoZSBoYW5kbGVyIG5hbWUgYW5kIHRoZSBhbm5vdGF0aW9uIGFsbG93bGlzdCBsaXZlIGluCiMgLi9rYXRhZmxlZXQtZGVmYXVsdHMuanNvbiwgd2hpY2gga2F0YWZsZWV0J3Mgb3duIGNvZGUgcmVhZHMgdG9vLCBzbyB0aGF0CiMgTml4T1MgaG9zdHMgYW5kIGV2ZXJ5IG90aGVyIGhvc3QgZ2V0IHRoZSBzYW1lIGhhbmRsZXJzIGFuZCB0aGUgc2FtZQojIGFubm90YXRpb25zLiBrYXRhZmxlZXQgd3JpdGVzIHRoYXQgZmlsZSBuZXh0IHRvIHRoaXMgb25lIG9uIE5peE9TIGhvc3RzLgp7IGNvbmZpZywgbGliLCBwa2dzLCAuLi4gfToKCmxldAogIGluaGVyaXQgKGxpYikKICAgIGxpdGVyYWxFeHByZXNzaW9uCiAgICBta0RlZmF1bHQKICAgIG1rRW5hYmxlT3B0aW9uCiAgICBta0lmCiAgICBta01lcmdlCiAgICBta09wdGlvbgogICAgbWtQYWNrYWdlT3B0aW9uCiAgICBvcHRpb25hbAogICAgdHlwZXMKICAgIDsKCiAgY2ZnID0gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczsKCiAgc2V0dGluZ3NGb3JtYXQgPSBwa2dzLmZvcm1hdHMudG9tbCB7IH07CgogIHN5c3RlbSA9IHBrZ3Muc3RkZW52Lmhvc3RQbGF0Zm9ybS5zeXN0ZW07CiAgc3VwcG9ydGVkU3lzdGVtcyA9IFsgIng4Nl82NC1saW51eCIgImFhcmNoNjQtbGludXgiIF07CgogICMgcnVudGltZS1ycyBmcm9tIDQuMCBvbjsgdGhlIEdvIHJ1bnRpbWUgYmVmb3JlLgogIGlzUnVudGltZVJzID0gbGliLnZlcnNpb25BdExlYXN0IChsaWIuZ2V0VmVyc2lvbiBjZmcucGFja2FnZSkgIjQiOwogIHJ1bnRpbWVOYW1lID0gaWYgaXNSdW50aW1lUnMgdGhlbiAicnVudGltZS1ycyIgZWxzZSAidGhlIEdvIHJ1bnRpbWUiOwoKICAjIFBlciBoeXBlcnZpc29yIChieSB0aGUgbmFtZSB0aGlzIG1vZHVsZSdzIG9wdGlvbnMgdXNlKTogdGhlIFRPTUwKICAjIHNlY3Rpb24gaXRzIHNldHRpbmdzIGxpdmUgaW4sIHRoZSBjb25maWd1cmF0aW9uIGZpbGUgZWFjaCBydW50aW1lIHNoaXBzCiAgIyBmb3IgaXQgYW5kIHRoZSBzeXN0ZW1zIHJ1bnRpbWUtcnMgYnVpbGRzIGl0IGZvciwgdGhlIHNob3J0IG5hbWUKICAjIGthdGEtZGVwbG95IGFuZCBrYXRhZmxlZXQncyBvdGhlciBpbnN0YWxsIHBhdGhzIHVzZSBpbiBoYW5kbGVyIG5hbWVzLCBhbmQKICAjIEthdGEncyBtaW5pbXVtIG1lbW9yeS4gQWxzbyB0aGUgaGFuZGxlciBuYW1lIGFuZCB0aGUgYW5ub3RhdGlvbnMgcG9kcyBtYXkKICAjIHNldCAoR0hTQS1ycjU5LXh4dngtOTZxcjogbm90aGluZyB0aGF0IHBpY2tzIGhvc3QgcGF0aHMgb3IgYmluYXJpZXMpLgogIGRlZmF1bHRzID0gbGliLmltcG9ydEpTT04gLi9rYXRhZmxlZXQtZGVmYXVsdHMuanNvbjsKICBpbmhlcml0IChkZWZhdWx0cykgaHlwZXJ2aXNvcnM7CgogIHNoaXBwZWQgPSBuYW1lOgogICAgbGV0IGggPSBoeXBlcnZpc29ycy4ke25hbWV9OyBpbgogICAgaWYgaXNSdW50aW1lUnMgdGhlbiBsaWIuZWxlbSBzeXN0ZW0gaC5ydW50aW1lUnNTeXN0ZW1zIGVsc2UgaC5nb0NvbmZpZyAhPSBudWxsOwogIHNoaXBwZWROYW1lcyA9IGxpYi5maWx0ZXIgc2hpcHBlZCAobGliLmF0dHJOYW1lcyBoeXBlcnZpc29ycyk7CgogICMgRXZlcnkgaHlwZXJ2aXNvciB3aXRoIGEgaGFuZGxlcjogdGhlIGRlZmF1bHQgb25lIChoYW5kbGVyIGBrYXRhYCkgYW5kCiAgIyB0aGUgc2hpbXMgKGhhbmRsZXJzIGBrYXRhLTxzaG9ydD5gKS4KICB3aXJlZCA9IGxpYi51bmlxdWUgKFsgY2ZnLmh5cGVydmlzb3IgXSArKyBjZmcuc2hpbXMpOwogICMgKFRoZSBkZWZhdWx0IGh5cGVydmlzb3IgaGFzIGFuIGFzc2VydGlvbiBvZiBpdHMgb3duLikKICBub3RTaGlwcGVkID0gbGliLmZpbHRlciAobmFtZTogbmFtZSAhPSBjZmcuaHlwZXJ2aXNvciAmJiAhc2hpcHBlZCBuYW1lKSBjZmcuc2hpbXM7CgogIGRlZmF1bHRzRGlyID0gIiR7Y2ZnLnBhY2thZ2V9L3NoYXJlL2RlZmF1bHRzL2thdGEtY29udGFpbmVycyI7CiAgc2hpcHBlZENvbmZpZyA9IG5hbWU6CiAgICBsZXQgaCA9IGh5cGVydmlzb3JzLiR7bmFtZX07IGluCiAgICBpZiBpc1J1bnRpbWVScyB0aGVuICIke2RlZmF1bHRzRGlyfS9ydW50aW1lLXJzLyR7aC5ydW50aW1lUnNDb25maWd9IgogICAgZWxzZSAiJHtkZWZhdWx0c0Rpcn0vJHtoLmdvQ29uZmlnfSI7CgogIHNoaW0gPSAiJHtjZmcucGFja2FnZX0vYmluL2NvbnRhaW5lcmQtc2hpbS1rYXRhLXYyIjsKCiAgIyBUaGUgVk1NcyB0aGUgcGFja2FnZSBuYW1lcyBidXQgZG9lcyBub3QgY29udGFpbi4KICBjbGhQYXRoID0gIiR7cGtncy5jbG91ZC1oeXBlcnZpc29yfS9iaW4vY2xvdWQtaHlwZXJ2aXNvciI7CiAgZmNQYXRoID0gIiR7cGtncy5maXJlY3JhY2tlcn0vYmluL2ZpcmVjcmFja2VyIjsKICBqYWlsZXJQYXRoID0gIiR7cGtncy5maXJlY3JhY2tlcn0vYmluL2phaWxlciI7CgogICMgT25lIGRyb3AtaW4gcGVyIGh5cGVydmlzb3IsIGhvbGRpbmcgYHNldHRpbmdzYCB3aXRoIG9ubHkgdGhhdAogICMgaHlwZXJ2aXNvcidzIGBbaHlwZXJ2aXNvci48c2VjdGlvbj5dYCB0YWJsZTogYSBjb25maWd1cmF0aW9uIHdpdGggdGhlCiAgIyB0YWJsZXMgb2Ygb3RoZXIgaHlwZXJ2aXNvcnMgaXMgYW1iaWd1b3VzIHRvIHRoZSBydW50aW1lLgogIGRyb3BJbiA9IG5hbWU6CiAgICBsZXQgc2VjdGlvbiA9IGh5cGVydmlzb3JzLiR7bmFtZX0uc2VjdGlvbjsgaW4KICAgIHNldHRpbmdzRm9ybWF0LmdlbmVyYXRlICJrYXRhLSR7bmFtZX0tNTAtbml4b3MudG9tbCIKICAgICAgKHJlbW92ZUF0dHJzIGNmZy5zZXR0aW5ncyBbICJoeXBlcnZpc29yIiBdCiAgICAgICAgLy8gbGliLm9wdGlvbmFsQXR0cnMgKGNmZy5zZXR0aW5ncyA/IGh5cGVydmlzb3IpIHsKICAgICAgICBoeXBlcnZpc29yID0gbGliLmZpbHRlckF0dHJzIChuOiBfOiBuID09IHNlY3Rpb24pIGNmZy5zZXR0aW5ncy5oeXBlcnZpc29yOwogICAgICB9KTsKCiAgY29uZmlnRGlycyA9IGxpYi5nZW5BdHRycyB3aXJlZCAobmFtZTogcGtncy5ydW5Db21tYW5kICJrYXRhLWNvbnRhaW5lcnMtY29uZmlnLSR7bmFtZX0iIHsgcGFzc3RocnUuZHJvcEluID0gZHJvcEluIG5hbWU7IH0gJycKICAgIG1rZGlyIC1wICRvdXQvY29uZmlnLmQKICAgIGNwICR7c2hpcHBlZENvbmZpZyBuYW1lfSAkb3V0L2NvbmZpZ3VyYXRpb24udG9tbAogICAgY3AgJHtkcm9wSW4gbmFtZX0gJG91dC9jb25maWcuZC81MC1uaXhvcy50b21sCiAgJycpOwoKICBjb25maWdQYXRoT2YgPSBuYW1lOiAiJHtjb25maWdEaXJzLiR7bmFtZX19L2NvbmZpZ3VyYXRpb24udG9tbCI7CiAgY29uZmlnUGF0aCA9IGNvbmZpZ1BhdGhPZiBjZmcuaHlwZXJ2aXNvcjsKCiAgIyBIYW5kbGVyIG5hbWUgLT4gaHlwZXJ2aXNvcjogYGthdGFgIGZvciB0aGUgZGVmYXVsdCBoeXBlcnZpc29yLCBhbmQKICAjIGBrYXRhLTxzaG9ydD5gIGZvciBlYWNoIHNoaW0sIGFzIG9uIGV2ZXJ5IG90aGVyIGhvc3Qga2F0YWZsZWV0IG1hbmFnZXMuCiAgaGFuZGxlckh5cGVydmlzb3JzID0geyAke2RlZmF1bHRzLmhhbmRsZXJ9ID0gY2ZnLmh5cGVydmlzb3I7IH0KICAgIC8vIGxpYi5saXN0VG9BdHRycyAobWFwIChuYW1lOiBsaWIubmFtZVZhbHVlUGFpciAiJHtkZWZhdWx0cy5oYW5kbGVyfS0ke2h5cGVydmlzb3JzLiR7bmFtZX0uc2hvcnR9IiBuYW1lKSBjZmcuc2hpbXMpOwogIGhhbmRsZXJDb25maWdzID0gbGliLm1hcEF0dHJzIChfOiBjb25maWdQYXRoT2YpIGhhbmRsZXJIeXBlcnZpc29yczsKCiAgIyBXaGVyZSBhIHNoaW0gc3RhcnRlZCB3aXRob3V0IENvbmZpZ1BhdGggKGUuZy4gYnkgcGxhaW4gYGN0cmApIGxvb2tzIGZpcnN0LgogIGV0Y0NvbmZpZyA9CiAgICBpZiBpc1J1bnRpbWVScyB0aGVuICJrYXRhLWNvbnRhaW5lcnMvcnVudGltZS1ycy9jb25maWd1cmF0aW9uLnRvbWwiCiAgICBlbHNlICJrYXRhLWNvbnRhaW5lcnMvY29uZmlndXJhdGlvbi50b21sIjsKCiAgbWVtb3J5T2YgPSBuYW1lOiBjZmcuc2V0dGluZ3MuaHlwZXJ2aXNvci4ke2h5cGVydmlzb3JzLiR7bmFtZX0uc2VjdGlvbn0uZGVmYXVsdF9tZW1vcnkgb3IgY2ZnLm1lbW9yeTsKICB0b29TbWFsbCA9IGxpYi5maWx0ZXIgKG5hbWU6IG1lbW9yeU9mIG5hbWUgPCBoeXBlcnZpc29ycy4ke25hbWV9Lm1pbk1lbW9yeU1pYikgd2lyZWQ7CgogICMgY29udGFpbmVyZCdzIENSSSBwbHVnaW4gaWQgYnkgY29uZmlndXJhdGlvbiB2ZXJzaW9uLgogIGNyaVBsdWdpbklkcyA9IHsKICAgICIyIiA9ICJpby5jb250YWluZXJkLmdycGMudjEuY3JpIjsKICAgICIzIiA9ICJpby5jb250YWluZXJkLmNyaS52MS5ydW50aW1lIjsKICAgICI0IiA9ICJpby5jb250YWluZXJkLmNyaS52MS5ydW50aW1lIjsKICB9OwogIHN1cHBvcnRlZFZlcnNpb25zID0gbWFwIGxpYi50b0ludCAobGliLmF0dHJOYW1lcyBjcmlQbHVnaW5JZHMpOwogIHZlcnNpb25MaXN0ID0gbGliLmNvbmNhdE1hcFN0cmluZ3NTZXAgIiwgIiB0b1N0cmluZyAobGliLmluaXQgc3VwcG9ydGVkVmVyc2lvbnMpCiAgICArICIgb3IgJHt0b1N0cmluZyAobGliLmxhc3Qgc3VwcG9ydGVkVmVyc2lvbnMpfSI7CiAgY3JpUGx1Z2luID0gY3JpUGx1Z2luSWRzLiR7dG9TdHJpbmcgY2ZnLmNvbnRhaW5lcmQuY29uZmlnVmVyc2lvbn07CgogICMgVGhlIHZlcnNpb24gTml4T1MnIGNvbnRhaW5lcmQgbW9kdWxlIChvciB0aGUgdXNlcikgZ2l2ZXMgY29udGFpbmVyZCdzCiAgIyBjb25maWd1cmF0aW9uOyBudWxsIHdoZW4gdW5zZXQsIHdoaWNoIGNvbnRhaW5lcmQgcmVhZHMgYXMgdmVyc2lvbiAxLgogIGNvbnRhaW5lcmRWZXJzaW9uID0gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3MudmVyc2lvbiBvciBudWxsOwogIGNvbnRhaW5lcmRWZXJzaW9uU3VwcG9ydGVkID0gbGliLmVsZW0gY29udGFpbmVyZFZlcnNpb24gc3VwcG9ydGVkVmVyc2lvbnM7CgogIGNvbnRhaW5lcmRSdW50aW1lID0gY29uZmlnOiB7CiAgICBydW50aW1lX3R5cGUgPSAiaW8uY29udGFpbmVyZC5rYXRhLnYyIjsKICAgIHJ1bnRpbWVfcGF0aCA9IHNoaW07CiAgICBwcml2aWxlZ2VkX3dpdGhvdXRfaG9zdF9kZXZpY2VzID0gdHJ1ZTsKICAgIHBvZF9hbm5vdGF0aW9ucyA9IG1hcCAoYTogZGVmYXVsdHMucG9kQW5ub3RhdGlvblByZWZpeCArIGEpIGNmZy5hbm5vdGF0aW9uczsKICAgIG9wdGlvbnMuQ29uZmlnUGF0aCA9IGNvbmZpZzsKICB9OwoKICAjIFNheXMgcGxhaW5seSB3aGV0aGVyIHRoaXMgaG9zdCBjYW4gc3RhcnQgS2F0YSBWTXMgYW5kLCBpZiBub3QsIHdoeS4KICAjIGthdGEtY3RsIChydW50aW1lLXJzJyBvd24gY2hlY2tlcikgaXMgbm90IHBhcnQgb2Ygbml4cGtncycgcGFja2FnZTsgdGhlIEdvCiAgIyBydW50aW1lJ3MgYGthdGEtcnVudGltZSBjaGVja2AgaXMsIGFuZCBydW5zIHdoZW4gcHJlc2VudC4KICBjaGVja1Rvb2wgPSBwa2dzLndyaXRlU2hlbGxBcHBsaWNhdGlvbiB7CiAgICBuYW1lID0gImthdGEtaG9zdC1jaGVjayI7CiAgICBydW50aW1lSW5wdXRzID0gWyBwa2dzLmNvcmV1dGlscyBwa2dzLmdudWdyZXAgXTsKICAgIHRleHQgPSAnJwogICAgICBzaGltPSR7c2hpbX0KICAgICAgY29uZmlnPSR7Y29uZmlnUGF0aH0KICAgICAgZ29fcnVudGltZT0ke2lmIGlzUnVudGltZVJzIHRoZW4gIiIgZWxzZSAiJHtjZmcucGFja2FnZX0vYmluL2thdGEtcnVudGltZSJ9CiAgICAgIHByb2JsZW1zPTAKICAgICAgb2soKSB7IHByaW50ZiAnb2sgICAgJXNcbicgIiQxIjsgfQogICAgICBwcm9ibGVtKCkgeyBwcmludGYgJ0ZBSUwgICVzXG4nICIkMSI7IHByb2JsZW1zPSQoKHByb2JsZW1zICsgMSkpOyB9CgogICAgICBpZiBbIC1yIC9ydW4vc3lzdGVtZC9jb250YWluZXIgXSB8fCBbIC1lIC8uZG9ja2VyZW52IF0gfHwgWyAtZSAvcnVuLy5jb250YWluZXJlbnYgXTsgdGhlbgogICAgICAgIHByb2JsZW0gInRoaXMgaG9zdCBpcyBhIGNvbnRhaW5lcjogS2F0YSBuZWVkcyBhIGJhcmUtbWV0YWwgaG9zdCBvciBhIFZNIHdpdGggbmVzdGVkIHZpcnR1YWxpc2F0aW9uIgogICAgICBmaQoKICAgICAgaWYgWyAtYyAvZGV2L2t2bSBdOyB0aGVuCiAgICAgICAgaWYgWyAtciAvZGV2L2t2bSBdICYmIFsgLXcgL2Rldi9rdm0gXTsgdGhlbgogICAgICAgICAgb2sgIi9kZXYva3ZtIGlzIHVzYWJsZSBieSAkKGlkIC11bikiCiAgICAgICAgZWxzZQogICAgICAgICAgcHJvYmxlbSAiL2Rldi9rdm0gZXhpc3RzIGJ1dCAkKGlkIC11bikgY2Fubm90IG9wZW4gaXQgcmVhZC13cml0ZTogcnVuIGFzIHJvb3Qgb3IgYWRkIHRoZSB1c2VyIHRvIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5rdm1Vc2VycyIKICAgICAgICBmaQogICAgICBlbGlmIFsgIiQodW5hbWUgLW0pIiA9IHg4Nl82NCBdICYmICEgZ3JlcCAtRXF3ICd2bXh8c3ZtJyAvcHJvYy9jcHVpbmZvOyB0aGVuCiAgICAgICAgcHJvYmxlbSAibWlzc2luZyBLVk06IC9kZXYva3ZtIGRvZXMgbm90IGV4aXN0IGFuZCB0aGUgQ1BVIHNob3dzIG5vIHZteC9zdm0gZmxhZzsgdmlydHVhbGlzYXRpb24gaXMgb2ZmIGluIHRoZSBmaXJtd2FyZSwgb3IgdGhpcyBWTSBoYXMgbm8gbmVzdGVkIHZpcnR1YWxpc2F0aW9uIgogICAgICBlbHNlCiAgICAgICAgcHJvYmxlbSAibWlzc2luZyBLVk06IC9kZXYva3ZtIGRvZXMgbm90IGV4aXN0OyBsb2FkIGt2bS1pbnRlbCBvciBrdm0tYW1kICh2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY3B1VmVuZG9yKSIKICAgICAgZmkKCiAgICAgIGlmIFsgLWMgL2Rldi92aG9zdC12c29jayBdOyB0aGVuCiAgICAgICAgb2sgIi9kZXYvdmhvc3QtdnNvY2sgaXMgcHJlc2VudCIKICAgICAgZWxzZQogICAgICAgIHByb2JsZW0gIm1pc3NpbmcgL2Rldi92aG9zdC12c29jazogdGhlIHZob3N0X3Zzb2NrIG1vZHVsZSBpcyBub3QgbG9hZGVkIgogICAgICBmaQogICAgICBpZiBncmVwIC1xcyAnXnZtd192c29ja192bWNpX3RyYW5zcG9ydCAnIC9wcm9jL21vZHVsZXM7IHRoZW4KICAgICAgICBwcm9ibGVtICJ2bXdfdnNvY2tfdm1jaV90cmFuc3BvcnQgaXMgbG9hZGVkIChWTXdhcmUgZ3Vlc3QpOyBpdCBjb25mbGljdHMgd2l0aCB2aG9zdF92c29jayIKICAgICAgZmkKICAgICAgaWYgWyAtYyAvZGV2L3Zob3N0LW5ldCBdOyB0aGVuCiAgICAgICAgb2sgIi9kZXYvdmhvc3QtbmV0IGlzIHByZXNlbnQiCiAgICAgIGVsc2UKICAgICAgICBwcm9ibGVtICJtaXNzaW5nIC9kZXYvdmhvc3QtbmV0OiB0aGUgdmhvc3RfbmV0IG1vZHVsZSBpcyBub3QgbG9hZGVkIgogICAgICBmaQoKICAgICAgaWYgdmVyc2lvbj0kKCIkc2hpbSIgLS12ZXJzaW9uIDI+JjEpOyB0aGVuCiAgICAgICAgb2sgInNoaW0gcnVuczogJChwcmludGYgJyVzXG4nICIkdmVyc2lvbiIgfCBoZWFkIC1uIDEpIgogICAgICBlbHNlCiAgICAgICAgcHJvYmxlbSAidGhlIHNoaW0gJHNoaW0gZG9lcyBub3QgcnVuOiAkdmVyc2lvbiIKICAgICAgZmkKICAgICAgZm9yIGMgaW4gJHtsaWIuY29uY2F0U3RyaW5nc1NlcCAiICIgKGxpYi51bmlxdWUgKGxpYi5hdHRyVmFsdWVzIGhhbmRsZXJDb25maWdzKSl9OyBkbwogICAgICAgIGlmIFsgLXIgIiRjIiBdOyB0aGVuCiAgICAgICAgICBvayAiY29uZmlndXJhdGlvbiAkYyIKICAgICAgICBlbHNlCiAgICAgICAgICBwcm9ibGVtICJjYW5ub3QgcmVhZCB0aGUgY29uZmlndXJhdGlvbiAkYyIKICAgICAgICBmaQogICAgICBkb25lCgogICAgICBpZiBbIC1uICIkZ29fcnVudGltZSIgXTsgdGhlbgogICAgICAgIGlmICIkZ29fcnVudGltZSIgLS1jb25maWcgIiRjb25maWciIGNoZWNrIC0tbm8tbmV0d29yay1jaGVja3M7IHRoZW4KICAgICAgICAgIG9rICJrYXRhLXJ1bnRpbWUgY2hlY2sgcGFzc2VkIgogICAgICAgIGVsc2UKICAgICAgICAgIHByb2JsZW0gImthdGEtcnVudGltZSBjaGVjayBmYWlsZWQgKHNlZSBhYm92ZSkiCiAgICAgICAgZmkKICAgICAgZmkKCiAgICAgIGlmIFsgIiRwcm9ibGVtcyIgLWVxIDAgXTsgdGhlbgogICAgICAgIGVjaG8gImthdGEtaG9zdC1jaGVjazogdGhpcyBob3N0IGNhbiBydW4gS2F0YSBDb250YWluZXJzIgogICAgICBlbHNlCiAgICAgICAgZWNobyAia2F0YS1ob3N0LWNoZWNrOiAkcHJvYmxlbXMgcHJvYmxlbShzKTsgS2F0YSBWTXMgd2lsbCBub3Qgc3RhcnQgaGVyZSIKICAgICAgICBleGl0IDEKICAgICAgZmkKICAgICcnOwogIH07CmluCnsKICBvcHRpb25zLnZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycyA9IHsKICAgIGVuYWJsZSA9IG1rRW5hYmxlT3B0aW9uICcnCiAgICAgIEthdGEgQ29udGFpbmVyczogT0NJIGNvbnRhaW5lcnMgdGhhdCBlYWNoIHJ1biBpbiB0aGVpciBvd24gbGlnaHR3ZWlnaHQKICAgICAgdmlydHVhbCBtYWNoaW5lLiBUaGlzIGluc3RhbGxzIHRoZSBydW50aW1lIGFuZCBpdHMgY29uZmlndXJhdGlvbjsgdXNlCiAgICAgIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5jb250YWluZXJkLmVuYWJsZWAgb3IKICAgICAge29wdGlvbn1gdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmRvY2tlci5lbmFibGVgIHRvIG9mZmVyIGl0IHRvIGEKICAgICAgY29udGFpbmVyIG1hbmFnZXInJzsKCiAgICBwYWNrYWdlID0gbWtQYWNrYWdlT3B0aW9uIHBrZ3MgImthdGEtcnVudGltZSIgeyB9OwoKICAgIGh5cGVydmlzb3IgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5lbnVtIChsaWIuYXR0ck5hbWVzIGh5cGVydmlzb3JzKTsKICAgICAgZGVmYXVsdCA9ICJxZW11IjsKICAgICAgZXhhbXBsZSA9ICJjbG91ZC1oeXBlcnZpc29yIjsKICAgICAgZGVzY3JpcHRpb24gPSAnJwogICAgICAgIFRoZSB2aXJ0dWFsIG1hY2hpbmUgbW9uaXRvciB0aGF0IHJ1bnMgZWFjaCBzYW5kYm94LiBXaXRoIHJ1bnRpbWUtcnMKICAgICAgICAoa2F0YS1ydW50aW1lIDQueCkgYHFlbXVgLCBgZHJhZ29uYmFsbGAgKGJ1aWx0IGludG8gdGhlIHNoaW0pIGFuZAogICAgICAgIGBmaXJlY3JhY2tlcmAgYXJlIGF2YWlsYWJsZSBvbiB4ODZfNjQtbGludXggYW5kIGFhcmNoNjQtbGludXgsIGFuZAogICAgICAgIGBjbG91ZC1oeXBlcnZpc29yYCBvbiB4ODZfNjQtbGludXggb25seS4gVGhlIEdvIHJ1bnRpbWUgKGthdGEtcnVudGltZQogICAgICAgIDMueCkgaW4gbml4cGtncyBpcyBidWlsdCBmb3IgYHFlbXVgIG9ubHkuIGBmaXJlY3JhY2tlcmAgbmVlZHMgYQogICAgICAgIGJsb2NrLWRldmljZSBzbmFwc2hvdHRlciAoZGV2bWFwcGVyKSBpbiBjb250YWluZXJkLCB3aGljaCB0aGlzIG1vZHVsZQogICAgICAgIGRvZXMgbm90IHNldCB1cC4KICAgICAgJyc7CiAgICB9OwoKICAgIHNoaW1zID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMubGlzdE9mICh0eXBlcy5lbnVtIChsaWIuYXR0ck5hbWVzIGh5cGVydmlzb3JzKSk7CiAgICAgIGRlZmF1bHQgPSBbIGNmZy5oeXBlcnZpc29yIF07CiAgICAgIGRlZmF1bHRUZXh0ID0gbGl0ZXJhbEV4cHJlc3Npb24gIlsgY29uZmlnLnZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5oeXBlcnZpc29yIF0iOwogICAgICBleGFtcGxlID0gWyAicWVtdSIgImNsb3VkLWh5cGVydmlzb3IiIF07CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUaGUgaHlwZXJ2aXNvcnMgdGhhdCBnZXQgYSBoYW5kbGVyIG9mIHRoZWlyIG93biwgYGthdGEtPHNob3J0PmAKICAgICAgICB3aXRoIGthdGEtZGVwbG95J3Mgc2hvcnQgbmFtZXMgKGBrYXRhLXFlbXVgLCBga2F0YS1jbGhgLCBga2F0YS1mY2AsCiAgICAgICAgYGthdGEtZHJhZ29uYmFsbGApLCBuZXh0IHRvIGBrYXRhYCwgd2hpY2ggYWx3YXlzIHVzZXMKICAgICAgICB7b3B0aW9ufWB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuaHlwZXJ2aXNvcmAuIFRoZXNlIGFyZSB0aGUKICAgICAgICBoYW5kbGVycyBrYXRhZmxlZXQgY29uZmlndXJlcyBvbiBldmVyeSBvdGhlciBob3N0IGZvciBpdHMgaW52ZW50b3J5J3MKICAgICAgICBgc2hpbXNgLCBzbyBvbmUgc2V0IG9mIEt1YmVybmV0ZXMgUnVudGltZUNsYXNzZXMgd29ya3MgYWNyb3NzIGEKICAgICAgICBmbGVldC4gRWFjaCBtdXN0IGJlIG9uZSB0aGUgcGFja2FnZSBzaGlwcyBhIGNvbmZpZ3VyYXRpb24gZm9yLgogICAgICAnJzsKICAgIH07CgogICAgYW5ub3RhdGlvbnMgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5saXN0T2YgdHlwZXMuc3RyOwogICAgICBkZWZhdWx0ID0gZGVmYXVsdHMuYW5ub3RhdGlvbnM7CiAgICAgIGRlZmF1bHRUZXh0ID0gbGl0ZXJhbEV4cHJlc3Npb24gKGJ1aWx0aW5zLnRvSlNPTiBkZWZhdWx0cy5hbm5vdGF0aW9ucyk7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUaGUgS2F0YSBoeXBlcnZpc29yIGFubm90YXRpb25zIGEgcG9kIG1heSBzZXQKICAgICAgICAoYCR7ZGVmYXVsdHMucG9kQW5ub3RhdGlvblByZWZpeH08bmFtZT5gKTogY29udGFpbmVyZCBwYXNzZXMgb25seQogICAgICAgIHRoZXNlIG9uIChgcG9kX2Fubm90YXRpb25zYCksIGFuZCBLYXRhIGFjY2VwdHMgb25seSB0aGVzZQogICAgICAgIChgZW5hYmxlX2Fubm90YXRpb25zYCBvZiBlYWNoIGh5cGVydmlzb3IsIGEgZGVmYXVsdCBpbgogICAgICAgIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5zZXR0aW5nc2ApLiBUaGUgZGVmYXVsdAogICAgICAgIGFsbG93cyBzaXppbmcgb25seTsgYW5ub3RhdGlvbnMgdGhhdCBjaG9vc2UgaG9zdCBwYXRocyBvciBiaW5hcmllcwogICAgICAgIGxldCBhIHBvZCBydW4gY29kZSBvbiB0aGUgaG9zdCAoR0hTQS1ycjU5LXh4dngtOTZxcikuCiAgICAgICcnOwogICAgfTsKCiAgICBoYW5kbGVycyA9IG1rT3B0aW9uIHsKICAgICAgdHlwZSA9IHR5cGVzLmF0dHJzT2YgdHlwZXMuc3RyOwogICAgICByZWFkT25seSA9IHRydWU7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUaGUgcnVudGltZSBoYW5kbGVycyB0aGlzIG1vZHVsZSBvZmZlcnMgdG8gY29udGFpbmVyZCBhbmQgRG9ja2VyCiAgICAgICAgYWxpa2UsIGVhY2ggd2l0aCB0aGUgY29uZmlndXJhdGlvbiBmaWxlIGl0cyBzaGltIGdldHMuCiAgICAgICcnOwogICAgfTsKCiAgICBtZW1vcnkgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5pbnRzLnBvc2l0aXZlOwogICAgICBkZWZhdWx0ID0gMjA0ODsKICAgICAgZXhhbXBsZSA9IDQwOTY7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBNZW1vcnkgb2YgZWFjaCBzYW5kYm94IFZNIGluIE1pQiAoS2F0YSdzIGBkZWZhdWx0X21lbW9yeWApLiBLYXRhCiAgICAgICAgcmVmdXNlcyBsZXNzIHRoYW4gNjQgTWlCICgxMjggTWlCIGZvciBmaXJlY3JhY2tlcikuIEEgdmFsdWUgc2V0IGluCiAgICAgICAge29wdGlvbn1gdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLnNldHRpbmdzYCB0YWtlcyBwcmVjZWRlbmNlLgogICAgICAnJzsKICAgIH07CgogICAgdmNwdXMgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5pbnRzLnBvc2l0aXZlOwogICAgICBkZWZhdWx0ID0gMTsKICAgICAgZGVzY3JpcHRpb24gPSAnJwogICAgICAgIFZpcnR1YWwgQ1BVcyBlYWNoIHNhbmRib3ggVk0gc3RhcnRzIHdpdGggKEthdGEncyBgZGVmYXVsdF92Y3B1c2ApLgogICAgICAgIEEgdmFsdWUgc2V0IGluIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5zZXR0aW5nc2AKICAgICAgICB0YWtlcyBwcmVjZWRlbmNlLgogICAgICAnJzsKICAgIH07CgogICAgZGVidWcgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5ib29sOwogICAgICBkZWZhdWx0ID0gZmFsc2U7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUdXJuIG9uIGRlYnVnIG91dHB1dCBvZiB0aGUgaHlwZXJ2aXNvciwgdGhlIGFnZW50IGFuZCB0aGUgcnVudGltZQogICAgICAgICh0aGVpciBgZW5hYmxlX2RlYnVnYCBrZXlzKS4gTG9ncyBnbyB0byB0aGUgam91cm5hbCBvZiB0aGUgY29udGFpbmVyCiAgICAgICAgbWFuYWdlci4KICAgICAgJyc7CiAgICB9OwoKICAgIHNldHRpbmdzID0gbWtPcHRpb24gewogICAgICB0eXBlID0gc2V0dGluZ3NGb3JtYXQudHlwZTsKICAgICAgZGVmYXVsdCA9IHsgfTsKICAgICAgZXhhbXBsZSA9IGxpdGVyYWxFeHByZXNzaW9uICcnCiAgICAgICAgewogICAgICAgICAgaHlwZXJ2aXNvci5xZW11LmRlZmF1bHRfbWF4dmNwdXMgPSA4OwogICAgICAgICAgcnVudGltZS5pbnRlcm5ldHdvcmtpbmdfbW9kZWwgPSAidGNmaWx0ZXIiOwogICAgICAgIH0KICAgICAgJyc7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBLYXRhIGNvbmZpZ3VyYXRpb24sIG1lcmdlZCBvdmVyIHRoZSBjb25maWd1cmF0aW9uIHRoZSBwYWNrYWdlIHNoaXBzCiAgICAgICAgZm9yIHRoZSBjaG9zZW4gaHlwZXJ2aXNvci4gSXQgaXMgd3JpdHRlbiBhcyBhIGBjb25maWcuZGAgZHJvcC1pbiwgc28KICAgICAgICBvbmx5IHRoZSBrZXlzIGdpdmVuIGhlcmUgY2hhbmdlLiBTZWUgdGhlIHNoaXBwZWQgZmlsZQogICAgICAgIChgc2hhcmUvZGVmYXVsdHMva2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvYCBpbiB0aGUgcGFja2FnZSkgZm9yIHRoZQogICAgICAgIGF2YWlsYWJsZSBrZXlzLiBUaGUgdHlwZWQgb3B0aW9ucyBhYm92ZSBvbmx5IHNldCBkZWZhdWx0cyBoZXJlOyBhCiAgICAgICAgdmFsdWUgc2V0IGluIHRoaXMgb3B0aW9uIHdpbnMuCiAgICAgICcnOwogICAgfTsKCiAgICBjb25maWdQYXRoID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMuc3RyOwogICAgICByZWFkT25seSA9IHRydWU7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUaGUgY29uZmlndXJhdGlvbiBmaWxlIGhhbmRlZCB0byB0aGUgc2hpbSAoYENvbmZpZ1BhdGhgKTogYSBzdG9yZQogICAgICAgIHBhdGggd2hvc2UgZGlyZWN0b3J5IGFsc28gaG9sZHMgdGhlIGBjb25maWcuZGAgZHJvcC1pbi4gQWxzbyBsaW5rZWQKICAgICAgICBhdCBgL2V0Yy9rYXRhLWNvbnRhaW5lcnMvcnVudGltZS1ycy9jb25maWd1cmF0aW9uLnRvbWxgIChHbyBydW50aW1lOgogICAgICAgIGAvZXRjL2thdGEtY29udGFpbmVycy9jb25maWd1cmF0aW9uLnRvbWxgKSBmb3IgdG9vbHMgdGhhdCBkbyBub3QgcGFzcwogICAgICAgIGEgcGF0aC4KICAgICAgJyc7CiAgICB9OwoKICAgIGt2bVVzZXJzID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMubGlzdE9mIHR5cGVzLnN0cjsKICAgICAgZGVmYXVsdCA9IFsgXTsKICAgICAgZXhhbXBsZSA9IFsgImFsaWNlIiBdOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgVXNlcnMgYWRkZWQgdG8gdGhlIGBrdm1gIGdyb3VwLCBzbyB0aGF0IHRoZXkgY2FuIG9wZW4gL2Rldi9rdm0sIGZvcgogICAgICAgIGV4YW1wbGUgdG8gcnVuIHtjb21tYW5kfWBrYXRhLWhvc3QtY2hlY2tgIG9yIGEgcm9vdGxlc3MgY29udGFpbmVyCiAgICAgICAgbWFuYWdlci4gUm9vdCBuZWVkcyBubyBlbnRyeS4KICAgICAgJyc7CiAgICB9OwoKICAgIGNwdVZlbmRvciA9IG1rT3B0aW9uIHsKICAgICAgdHlwZSA9IHR5cGVzLm51bGxPciAodHlwZXMuZW51bSBbICJpbnRlbCIgImFtZCIgXSk7CiAgICAgIGRlZmF1bHQgPQogICAgICAgIGlmIGNvbmZpZy5oYXJkd2FyZS5jcHUuaW50ZWwudXBkYXRlTWljcm9jb2RlIHRoZW4gImludGVsIgogICAgICAgIGVsc2UgaWYgY29uZmlnLmhhcmR3YXJlLmNwdS5hbWQudXBkYXRlTWljcm9jb2RlIHRoZW4gImFtZCIKICAgICAgICBlbHNlIG51bGw7CiAgICAgIGRlZmF1bHRUZXh0ID0gbGl0ZXJhbEV4cHJlc3Npb24gJycKICAgICAgICBpZiBjb25maWcuaGFyZHdhcmUuY3B1LmludGVsLnVwZGF0ZU1pY3JvY29kZSB0aGVuICJpbnRlbCIKICAgICAgICBlbHNlIGlmIGNvbmZpZy5oYXJkd2FyZS5jcHUuYW1kLnVwZGF0ZU1pY3JvY29kZSB0aGVuICJhbWQiCiAgICAgICAgZWxzZSBudWxsCiAgICAgICcnOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgT24geDg2XzY0LCB3aG9zZSBLVk0gbW9kdWxlIHRvIGxvYWQ6IGBrdm0taW50ZWxgIG9yIGBrdm0tYW1kYC4KICAgICAgICBgbnVsbGAgbGVhdmVzIGl0IHRvIHRoZSBoYXJkd2FyZSBjb25maWd1cmF0aW9uLCB3aGljaAogICAgICAgIHtjb21tYW5kfWBuaXhvcy1nZW5lcmF0ZS1jb25maWdgIGFscmVhZHkgd3JpdGVzIHdpdGggdGhlIHJpZ2h0IG9uZS4KICAgICAgICBNdXN0IGJlIGBudWxsYCBvbiBhYXJjaDY0LCB3aGVyZSBLVk0gaXMgYnVpbHQgaW50byB0aGUga2VybmVsLgogICAgICAnJzsKICAgIH07CgogICAgY29udGFpbmVyZCA9IHsKICAgICAgZW5hYmxlID0gbWtFbmFibGVPcHRpb24gJycKICAgICAgICB0aGUgcnVudGltZSBoYW5kbGVycyBga2F0YWAgYW5kIGBrYXRhLTxoeXBlcnZpc29yPmAgKG9uZSBwZXIKICAgICAgICB7b3B0aW9ufWB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuc2hpbXNgKSBpbiBjb250YWluZXJkJ3MgQ1JJCiAgICAgICAgcGx1Z2luIChmb3IgS3ViZXJuZXRlcyBSdW50aW1lQ2xhc3NlcyBhbmQge2NvbW1hbmR9YGNyaWN0bGApLiBUaGUKICAgICAgICBkZWZhdWx0IHJ1bnRpbWUgc3RheXMgYXMgaXQgaXMnJzsKCiAgICAgIGNvbmZpZ1ZlcnNpb24gPSBta09wdGlvbiB7CiAgICAgICAgdHlwZSA9IHR5cGVzLmVudW0gc3VwcG9ydGVkVmVyc2lvbnM7CiAgICAgICAgZGVmYXVsdCA9IGlmIGNvbnRhaW5lcmRWZXJzaW9uU3VwcG9ydGVkIHRoZW4gY29udGFpbmVyZFZlcnNpb24gZWxzZSAyOwogICAgICAgIGRlZmF1bHRUZXh0ID0gbGl0ZXJhbEV4cHJlc3Npb24gJycKICAgICAgICAgIGlmIGxpYi5lbGVtIChjb25maWcudmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy52ZXJzaW9uIG9yIG51bGwpIFsgMiAzIDQgXQogICAgICAgICAgdGhlbiBjb25maWcudmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy52ZXJzaW9uCiAgICAgICAgICBlbHNlIDIKICAgICAgICAnJzsKICAgICAgICBleGFtcGxlID0gMzsKICAgICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgICBUaGUgYHZlcnNpb25gIG9mIHRoZSBjb250YWluZXJkIGNvbmZpZ3VyYXRpb24gdGhhdAogICAgICAgICAge29wdGlvbn1gdmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5nc2AgcHJvZHVjZXM7IGl0IGRlY2lkZXMKICAgICAgICAgIHRoZSBDUkkgcGx1Z2luIGlkIHRoZSBoYW5kbGVycyBnbyB1bmRlciAoMjoKICAgICAgICAgIGBpby5jb250YWluZXJkLmdycGMudjEuY3JpYCwgMyBhbmQgNDoKICAgICAgICAgIGBpby5jb250YWluZXJkLmNyaS52MS5ydW50aW1lYCkuIEl0IGZvbGxvd3MKICAgICAgICAgIGB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLnNldHRpbmdzLnZlcnNpb25gIChOaXhPUycgY29udGFpbmVyZAogICAgICAgICAgbW9kdWxlIHdyaXRlcyAyKSwgc28gdGhlcmUgaXMgbm8gbmVlZCB0byBzZXQgaXQ6IGNoYW5nZQogICAgICAgICAgY29udGFpbmVyZCdzIG93biBzZXR0aW5nIGluc3RlYWQuIEFuIGFzc2VydGlvbiBjaGVja3MgdGhhdCB0aGUgdHdvCiAgICAgICAgICBhZ3JlZS4KICAgICAgICAnJzsKICAgICAgfTsKICAgIH07CgogICAgZG9ja2VyLmVuYWJsZSA9IG1rRW5hYmxlT3B0aW9uICcnCiAgICAgIHRoZSBydW50aW1lcyBga2F0YWAgYW5kIGBrYXRhLTxoeXBlcnZpc29yPmAgaW4gRG9ja2VyJ3MgZGFlbW9uLmpzb24KICAgICAgKGBkb2NrZXIgcnVuIC0tcnVudGltZSBrYXRhYCkuIFRoZSBkZWZhdWx0IHJ1bnRpbWUgc3RheXMgYXMgaXQgaXMnJzsKICB9OwoKICBjb25maWcgPSBta0lmIGNmZy5lbmFibGUgKG1rTWVyZ2UgWwogICAgewogICAgICBhc3NlcnRpb25zID0gWwogICAgICAgIHsKICAgICAgICAgIGFzc2VydGlvbiA9IGxpYi5lbGVtIHN5c3RlbSBzdXBwb3J0ZWRTeXN0ZW1zOwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczogJHtzeXN0ZW19IGlzIG5vdCBzdXBwb3J0ZWQ7IEthdGEKICAgICAgICAgICAgQ29udGFpbmVycyBmcm9tIG5peHBrZ3MgcnVucyBvbiAke2xpYi5jb25jYXRTdHJpbmdzU2VwICIgYW5kICIgc3VwcG9ydGVkU3lzdGVtc30uCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gc2hpcHBlZCBjZmcuaHlwZXJ2aXNvcjsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuaHlwZXJ2aXNvciA9ICIke2NmZy5oeXBlcnZpc29yfSIsIGJ1dAogICAgICAgICAgICAke2NmZy5wYWNrYWdlLm5hbWV9ICgke3J1bnRpbWVOYW1lfSkgb24gJHtzeXN0ZW19IHNoaXBzIG5vCiAgICAgICAgICAgIGNvbmZpZ3VyYXRpb24gZm9yIGl0LiBDaG9vc2Ugb25lIG9mOiAke2xpYi5jb25jYXRTdHJpbmdzU2VwICIsICIgc2hpcHBlZE5hbWVzfS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgICB7CiAgICAgICAgICBhc3NlcnRpb24gPSBub3RTaGlwcGVkID09IFsgXTsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuc2hpbXMgaGFzICR7bGliLmNvbmNhdFN0cmluZ3NTZXAgIiwgIiBub3RTaGlwcGVkfSwgYnV0CiAgICAgICAgICAgICR7Y2ZnLnBhY2thZ2UubmFtZX0gKCR7cnVudGltZU5hbWV9KSBvbiAke3N5c3RlbX0gc2hpcHMgbm8KICAgICAgICAgICAgY29uZmlndXJhdGlvbiBmb3IgaXQuIENob29zZSBmcm9tOiAke2xpYi5jb25jYXRTdHJpbmdzU2VwICIsICIgc2hpcHBlZE5hbWVzfS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgXSArKyBtYXAKICAgICAgICAobmFtZTogewogICAgICAgICAgYXNzZXJ0aW9uID0gZmFsc2U7CiAgICAgICAgICBtZXNzYWdlID0gJycKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzOiBlYWNoICR7bmFtZX0gc2FuZGJveCBWTSB3b3VsZCBnZXQKICAgICAgICAgICAgJHt0b1N0cmluZyAobWVtb3J5T2YgbmFtZSl9IE1pQiwgYnV0IEthdGEncyAke25hbWV9CiAgICAgICAgICAgIG5lZWRzIGF0IGxlYXN0ICR7dG9TdHJpbmcgaHlwZXJ2aXNvcnMuJHtuYW1lfS5taW5NZW1vcnlNaWJ9IE1pQi4gUmFpc2UKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLm1lbW9yeS4KICAgICAgICAgICcnOwogICAgICAgIH0pCiAgICAgICAgdG9vU21hbGwgKysgWwogICAgICAgIHsKICAgICAgICAgIGFzc2VydGlvbiA9IGNmZy5jcHVWZW5kb3IgPT0gbnVsbCB8fCBsaWIuaGFzUHJlZml4ICJ4ODZfNjQtIiBzeXN0ZW07CiAgICAgICAgICBtZXNzYWdlID0gJycKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmNwdVZlbmRvciA9ICIke3RvU3RyaW5nIGNmZy5jcHVWZW5kb3J9IiBvbmx5CiAgICAgICAgICAgIGFwcGxpZXMgdG8geDg2XzY0OyBzZXQgaXQgdG8gbnVsbCBvbiAke3N5c3RlbX0uCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gY2ZnLmNvbnRhaW5lcmQuZW5hYmxlIC0+IGNvbmZpZy52aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLmVuYWJsZTsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY29udGFpbmVyZC5lbmFibGUgYWRkcyBydW50aW1lCiAgICAgICAgICAgIGhhbmRsZXJzIHRvIGNvbnRhaW5lcmQsIGJ1dCB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLmVuYWJsZSBpcwogICAgICAgICAgICBmYWxzZS4gRW5hYmxlIGNvbnRhaW5lcmQsIG9yIHR1cm4gdGhlIEthdGEgaGFuZGxlcnMgb2ZmLgogICAgICAgICAgJyc7CiAgICAgICAgfQogICAgICAgIHsKICAgICAgICAgIGFzc2VydGlvbiA9IGNmZy5jb250YWluZXJkLmVuYWJsZSAtPiBjb250YWluZXJkVmVyc2lvblN1cHBvcnRlZDsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLnNldHRpbmdzLnZlcnNpb24gaXMKICAgICAgICAgICAgJHtpZiBjb250YWluZXJkVmVyc2lvbiA9PSBudWxsIHRoZW4gInVuc2V0IChjb250YWluZXJkIHRoZW4gcmVhZHMgdGhlIGNvbmZpZ3VyYXRpb24gYXMgdmVyc2lvbiAxKSIKICAgICAgICAgICAgICBlbHNlIGJ1aWx0aW5zLnRvSlNPTiBjb250YWluZXJkVmVyc2lvbn0sIGJ1dCB0aGUgS2F0YSBoYW5kbGVycyBuZWVkIGEgY29udGFpbmVyZAogICAgICAgICAgICBjb25maWd1cmF0aW9uIG9mIHZlcnNpb24gJHt2ZXJzaW9uTGlzdH0uCiAgICAgICAgICAgIFNldCB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLnNldHRpbmdzLnZlcnNpb24gdG8gb25lIG9mIHRoZW0uCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gY2ZnLmNvbnRhaW5lcmQuZW5hYmxlICYmIGNvbnRhaW5lcmRWZXJzaW9uU3VwcG9ydGVkIC0+CiAgICAgICAgICAgIGNvbnRhaW5lcmRWZXJzaW9uID09IGNmZy5jb250YWluZXJkLmNvbmZpZ1ZlcnNpb247CiAgICAgICAgICBtZXNzYWdlID0gJycKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmNvbnRhaW5lcmQuY29uZmlnVmVyc2lvbiBpcwogICAgICAgICAgICAke3RvU3RyaW5nIGNmZy5jb250YWluZXJkLmNvbmZpZ1ZlcnNpb259LCBidXQgdmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy52ZXJzaW9uIGlzCiAgICAgICAgICAgICR7YnVpbHRpbnMudG9KU09OIGNvbnRhaW5lcmRWZXJzaW9ufTogdGhlIEthdGEgaGFuZGxlcnMgd291bGQgZ28gdW5kZXIgQ1JJIHBsdWdpbgogICAgICAgICAgICAiJHtjcmlQbHVnaW59IiwgYnV0IGEgdmVyc2lvbiAke2J1aWx0aW5zLnRvSlNPTiBjb250YWluZXJkVmVyc2lvbn0gY29uZmlndXJhdGlvbiBrZWVwcyBpdHMKICAgICAgICAgICAgcnVudGltZXMgdW5kZXIgIiR7Y3JpUGx1Z2luSWRzLiR7dG9TdHJpbmcgY29udGFpbmVyZFZlcnNpb259IG9yICI/In0iLiBSZW1vdmUgdGhlCiAgICAgICAgICAgIGNvbmZpZ1ZlcnNpb24gc2V0dGluZzsgaXQgZm9sbG93cyBjb250YWluZXJkJ3MgdmVyc2lvbiBieSBkZWZhdWx0LgogICAgICAgICAgJyc7CiAgICAgICAgfQogICAgICAgIHsKICAgICAgICAgIGFzc2VydGlvbiA9IGNmZy5kb2NrZXIuZW5hYmxlIC0+IGNvbmZpZy52aXJ0dWFsaXNhdGlvbi5kb2NrZXIuZW5hYmxlOwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5kb2NrZXIuZW5hYmxlIGFkZHMgdGhlIGBrYXRhYAogICAgICAgICAgICBydW50aW1lIHRvIERvY2tlciwgYnV0IHZpcnR1YWxpc2F0aW9uLmRvY2tlci5lbmFibGUgaXMgZmFsc2UuCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgIF07CgogICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY29uZmlnUGF0aCA9IGNvbmZpZ1BhdGg7CiAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5oYW5kbGVycyA9IGhhbmRsZXJDb25maWdzOwogICAgICBzeXN0ZW0uYnVpbGQua2F0YUNvbnRhaW5lcnNDb25maWcgPSBjb25maWdEaXJzLiR7Y2ZnLmh5cGVydmlzb3J9OwogICAgICBzeXN0ZW0uYnVpbGQua2F0YUNvbnRhaW5lcnNDb25maWdzID0gY29uZmlnRGlyczsKCiAgICAgICMgRGVmYXVsdHMgb25seTogYW55dGhpbmcgdGhlIHVzZXIgd3JpdGVzIGludG8gYHNldHRpbmdzYCB3aW5zLgogICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuc2V0dGluZ3MgPSBta01lcmdlIFsKICAgICAgICB7CiAgICAgICAgICBoeXBlcnZpc29yID0gbGliLmdlbkF0dHJzIChtYXAgKG5hbWU6IGh5cGVydmlzb3JzLiR7bmFtZX0uc2VjdGlvbikgd2lyZWQpIChfOiB7CiAgICAgICAgICAgIGRlZmF1bHRfbWVtb3J5ID0gbWtEZWZhdWx0IGNmZy5tZW1vcnk7CiAgICAgICAgICAgIGRlZmF1bHRfdmNwdXMgPSBta0RlZmF1bHQgY2ZnLnZjcHVzOwogICAgICAgICAgICBlbmFibGVfZGVidWcgPSBta0RlZmF1bHQgY2ZnLmRlYnVnOwogICAgICAgICAgICBlbmFibGVfYW5ub3RhdGlvbnMgPSBta0RlZmF1bHQgY2ZnLmFubm90YXRpb25zOwogICAgICAgICAgfSk7CiAgICAgICAgICBhZ2VudC5rYXRhLmVuYWJsZV9kZWJ1ZyA9IG1rRGVmYXVsdCBjZmcuZGVidWc7CiAgICAgICAgICBydW50aW1lLmVuYWJsZV9kZWJ1ZyA9IG1rRGVmYXVsdCBjZmcuZGVidWc7CiAgICAgICAgfQogICAgICAgIChta0lmIChpc1J1bnRpbWVScyAmJiBsaWIuZWxlbSAiY2xvdWQtaHlwZXJ2aXNvciIgd2lyZWQpIHsKICAgICAgICAgIGh5cGVydmlzb3IuY2xoID0gewogICAgICAgICAgICBwYXRoID0gbWtEZWZhdWx0IGNsaFBhdGg7CiAgICAgICAgICAgIHZhbGlkX2h5cGVydmlzb3JfcGF0aHMgPSBta0RlZmF1bHQgWyBjbGhQYXRoIF07CiAgICAgICAgICB9OwogICAgICAgIH0pCiAgICAgICAgKG1rSWYgKGlzUnVudGltZVJzICYmIGxpYi5lbGVtICJmaXJlY3JhY2tlciIgd2lyZWQpIHsKICAgICAgICAgIGh5cGVydmlzb3IuZmlyZWNyYWNrZXIgPSB7CiAgICAgICAgICAgIHBhdGggPSBta0RlZmF1bHQgZmNQYXRoOwogICAgICAgICAgICB2YWxpZF9oeXBlcnZpc29yX3BhdGhzID0gbWtEZWZhdWx0IFsgZmNQYXRoIF07CiAgICAgICAgICAgIGphaWxlcl9wYXRoID0gbWtEZWZhdWx0IGphaWxlclBhdGg7CiAgICAgICAgICAgIHZhbGlkX2phaWxlcl9wYXRocyA9IG1rRGVmYXVsdCBbIGphaWxlclBhdGggXTsKICAgICAgICAgIH07CiAgICAgICAgfSkKICAgICAgXTsKCiAgICAgIGVudmlyb25tZW50LnN5c3RlbVBhY2thZ2VzID0gWyBjZmcucGFja2FnZSBjaGVja1Rvb2wgXTsKICAgICAgZW52aXJvbm1lbnQuZXRjLiR7ZXRjQ29uZmlnfS5zb3VyY2UgPSBjb25maWdQYXRoOwoKICAgICAgYm9vdC5rZXJuZWxNb2R1bGVzID0gWyAidmhvc3RfdnNvY2siICJ2aG9zdF9uZXQiIF0KICAgICAgICArKyBvcHRpb25hbCAoY2ZnLmNwdVZlbmRvciA9PSAiaW50ZWwiKSAia3ZtLWludGVsIgogICAgICAgICsrIG9wdGlvbmFsIChjZmcuY3B1VmVuZG9yID09ICJhbWQiKSAia3ZtLWFtZCI7CgogICAgICB1c2Vycy5ncm91cHMua3ZtLm1lbWJlcnMgPSBjZmcua3ZtVXNlcnM7CiAgICB9CgogICAgKG1rSWYgY2ZnLmNvbnRhaW5lcmQuZW5hYmxlIHsKICAgICAgIyBPbmUgZW50cnkgcGVyIENSSSBwbHVnaW4gaWQsIGVhY2ggYmVoaW5kIGl0cyBvd24gY29uZGl0aW9uLCBzbyB0aGF0CiAgICAgICMgdGhlIGF0dHJpYnV0ZSBuYW1lcyBkbyBub3QgZGVwZW5kIG9uIGNvbmZpZ1ZlcnNpb246IGl0cyBkZWZhdWx0CiAgICAgICMgcmVhZHMgY29udGFpbmVyZCdzIHNldHRpbmdzLnZlcnNpb24sIGFuZCBhIG5hbWUgY29tcHV0ZWQgZnJvbSBpdAogICAgICAjIHdvdWxkIG1ha2UgbWVyZ2luZyB0aG9zZSBzZXR0aW5ncyBkZXBlbmQgb24gaXRzZWxmIChpbmZpbml0ZQogICAgICAjIHJlY3Vyc2lvbikuCiAgICAgIHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3MucGx1Z2lucyA9IGxpYi5nZW5BdHRycyAobGliLnVuaXF1ZSAobGliLmF0dHJWYWx1ZXMgY3JpUGx1Z2luSWRzKSkKICAgICAgICAoaWQ6IG1rSWYgKGlkID09IGNyaVBsdWdpbikgewogICAgICAgICAgY29udGFpbmVyZC5ydW50aW1lcyA9IGxpYi5tYXBBdHRycyAoXzogY29udGFpbmVyZFJ1bnRpbWUpIGhhbmRsZXJDb25maWdzOwogICAgICAgIH0pOwogICAgICAjIFNvIHRoYXQgYGN0ciBydW4gLS1ydW50aW1lIGlvLmNvbnRhaW5lcmQua2F0YS52MmAgZmluZHMgdGhlIHNoaW0gdG9vLgogICAgICBzeXN0ZW1kLnNlcnZpY2VzLmNvbnRhaW5lcmQucGF0aCA9IFsgY2ZnLnBhY2thZ2UgXTsKICAgIH0pCgogICAgKG1rSWYgY2ZnLmRvY2tlci5lbmFibGUgewogICAgICB2aXJ0dWFsaXNhdGlvbi5kb2NrZXIuZGFlbW9uLnNldHRpbmdzLnJ1bnRpbWVzID0gbGliLm1hcEF0dHJzCiAgICAgICAgKF86IGNvbmZpZzogewogICAgICAgICAgcnVudGltZVR5cGUgPSBzaGltOwogICAgICAgICAgb3B0aW9ucy5Db25maWdQYXRoID0gY29uZmlnOwogICAgICAgIH0pCiAgICAgICAgaGFuZGxlckNvbmZpZ3M7CiAgICB9KQoKICAgIChta0lmCiAgICAgIChjZmcuZG9ja2VyLmVuYWJsZSAmJiAhaXNSdW50aW1lUnMKICAgICAgICAmJiBsaWIudmVyc2lvbk9sZGVyIChsaWIuZ2V0VmVyc2lvbiBjZmcucGFja2FnZSkgIjMuMzIiCiAgICAgICAgJiYgbGliLnZlcnNpb25BdExlYXN0IChsaWIuZ2V0VmVyc2lvbiBjb25maWcudmlydHVhbGlzYXRpb24uZG9ja2VyLnBhY2thZ2UpICIyOSIpCiAgICAgIHsKICAgICAgICB3YXJuaW5ncyA9IFsKICAgICAgICAgICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczogRG9ja2VyICR7bGliLmdldFZlcnNpb24gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmRvY2tlci5wYWNrYWdlfQogICAgICAgICAgICBuZWVkcyB0aGUgR28gcnVudGltZSBvZiBLYXRhIDMuMzIgb3IgbGF0ZXIsIGJ1dCAke2NmZy5wYWNrYWdlLm5hbWV9IGlzIG9sZGVyOwogICAgICAgICAgICBgZG9ja2VyIHJ1biAtLXJ1bnRpbWUga2F0YWAgd2lsbCBmYWlsLgogICAgICAgICAgJycKICAgICAgICBdOwogICAgICB9KQogIF0pOwp9Cg== && kf_put '/etc/nixos/katafleet-defaults.json' 644 ewogICJjb21tZW50IjogIlNoYXJlZCBieSBrYXRhZmxlZXQgKHByb3Zpc2lvbmVyL3NyYy9wbGFuL2thdGFfZGVmYXVsdHMucnMsIGNvbXBpbGVkIGluKSBhbmQgaXRzIE5peE9TIG1vZHVsZSAobml4L21vZHVsZS5uaXgsIGxpYi5pbXBvcnRKU09OKS4ga2F0YWZsZWV0IHdyaXRlcyB0aGlzIGZpbGUgbmV4dCB0byB0aGUgbW9kdWxlIG9uIE5peE9TIGhvc3RzIGFzIC9ldGMvbml4b3Mva2F0YWZsZWV0LWRlZmF1bHRzLmpzb24uIFNlZSBuaXgvUkVBRE1FLm1kLiIsCiAgImhhbmRsZXIiOiAia2F0YSIsCiAgImFubm90YXRpb25zIjogWyJkZWZhdWx0X21lbW9yeSIsICJkZWZhdWx0X3ZjcHVzIl0sCiAgInBvZEFubm90YXRpb25QcmVmaXgiOiAiaW8ua2F0YWNvbnRhaW5lcnMuY29uZmlnLmh5cGVydmlzb3IuIiwKICAiaHlwZXJ2aXNvcnMiOiB7CiAgICAicWVtdSI6IHsKICAgICAgInNob3J0IjogInFlbXUiLAogICAgICAic2VjdGlvbiI6ICJxZW11IiwKICAgICAgInJ1bnRpbWVSc0NvbmZpZyI6ICJjb25maWd1cmF0aW9uLXFlbXUtcnVudGltZS1ycy50b21sIiwKICAgICAgInJ1bnRpbWVSc1N5c3RlbXMiOiBbIng4Nl82NC1saW51eCIsICJhYXJjaDY0LWxpbnV4Il0sCiAgICAgICJnb0NvbmZpZyI6ICJjb25maWd1cmF0aW9uLXFlbXUudG9tbCIsCiAgICAgICJtaW5NZW1vcnlNaWIiOiA2NAogICAgfSwKICAgICJjbG91ZC1oeXBlcnZpc29yIjogewogICAgICAic2hvcnQiOiAiY2xoIiwKICAgICAgInNlY3Rpb24iOiAiY2xoIiwKICAgICAgInJ1bnRpbWVSc0NvbmZpZyI6ICJjb25maWd1cmF0aW9uLWNsaC1ydW50aW1lLXJzLnRvbWwiLAogICAgICAicnVudGltZVJzU3lzdGVtcyI6IFsieDg2XzY0LWxpbnV4Il0sCiAgICAgICJnb0NvbmZpZyI6IG51bGwsCiAgICAgICJtaW5NZW1vcnlNaWIiOiA2NAogICAgfSwKICAgICJkcmFnb25iYWxsIjogewogICAgICAic2hvcnQiOiAiZHJhZ29uYmFsbCIsCiAgICAgICJzZWN0aW9uIjogImRyYWdvbmJhbGwiLAogICAgICAicnVudGltZVJzQ29uZmlnIjogImNvbmZpZ3VyYXRpb24tZHJhZ29uYmFsbC50b21sIiwKICAgICAgInJ1bnRpbWVSc1N5c3RlbXMiOiBbIng4Nl82NC1saW51eCIsICJhYXJjaDY0LWxpbnV4Il0sCiAgICAgICJnb0NvbmZpZyI6IG51bGwsCiAgICAgICJtaW5NZW1vcnlNaWIiOiA2NAogICAgfSwKICAgICJmaXJlY3JhY2tlciI6IHsKICAgICAgInNob3J0IjogImZjIiwKICAgICAgInNlY3Rpb24iOiAiZmlyZWNyYWNrZXIiLAogICAgICAicnVudGltZVJzQ29uZmlnIjogImNvbmZpZ3VyYXRpb24tcnMtZmMudG9tbCIsCiAgICAgICJydW50aW1lUnNTeXN0ZW1zIjogWyJ4ODZfNjQtbGludXgiLCAiYWFyY2g2NC1saW51eCJdLAogICAgICAiZ29Db25maWciOiBudWxsLAogICAgICAibWluTWVtb3J5TWliIjogMTI4CiAgICB9CiAgfQp9Cg== && kf_put '/etc/nixos/katafleet.nix' 644 IyBXcml0dGVuIGJ5IGthdGFmbGVldDsgdGhlIG5leHQgYGthdGFmbGVldCBwcm92aXNpb25gIHJlcGxhY2VzIGl0LCBzbyBjaGFuZ2UKIyB0aGUgaW52ZW50b3J5IHJhdGhlciB0aGFuIHRoaXMgZmlsZS4gL2V0Yy9uaXhvcy9jb25maWd1cmF0aW9uLm5peCBtdXN0CiMgaW1wb3J0IGl0OgojCiMgICBpbXBvcnRzID0gWyAuL2thdGFmbGVldC5uaXggXTsKIwojIFRoZSBvcHRpb25zIGJlbG93IGFyZSBkZWNsYXJlZCBieSAuL2thdGFmbGVldC1tb2R1bGUubml4LCB0aGUgTml4T1MgbW9kdWxlCiMgZnJvbSBrYXRhZmxlZXQncyBmbGFrZSAobml4L21vZHVsZS5uaXgpLCB3aGljaCBrYXRhZmxlZXQgd3JpdGVzIG5leHQgdG8gdGhpcwojIGZpbGUgd2l0aCB0aGUgZGF0YSBpdCByZWFkcyAoLi9rYXRhZmxlZXQtZGVmYXVsdHMuanNvbiksIHNvIGEgaG9zdCBuZWVkcwojIG5laXRoZXIgdGhlIGZsYWtlIG5vciBuZXR3b3JrIGFjY2VzcyB0byBldmFsdWF0ZSBpdC4gRG9ja2VyIGlzIHdpcmVkIG9ubHkKIyB3aGVyZSB0aGlzIGhvc3QncyBjb25maWd1cmF0aW9uIGFscmVhZHkgZW5hYmxlcyBpdCwgYXMgb24gZXZlcnkgb3RoZXIgaG9zdAojIGthdGFmbGVldCBtYW5hZ2VzLgp7IGxpYiwgLi4uIH06CnsKICBpbXBvcnRzID0gWyAuL2thdGFmbGVldC1tb2R1bGUubml4IF07CgogIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycyA9IHsKICAgIGVuYWJsZSA9IHRydWU7CiAgICBoeXBlcnZpc29yID0gInFlbXUiOwogICAgc2hpbXMgPSBbICJxZW11IiBdOwogICAgbWVtb3J5ID0gMjA0ODsKICAgIHZjcHVzID0gMTsKICAgIGRlYnVnID0gZmFsc2U7CiAgICBjb250YWluZXJkLmVuYWJsZSA9IHRydWU7CiAgICBkb2NrZXIuZW5hYmxlID0gZmFsc2U7CiAgICBrdm1Vc2VycyA9IFsgImFsaWNlIiBdOwogIH07CgogIHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuZW5hYmxlID0gbGliLm1rRGVmYXVsdCB0cnVlOwp9Cg==; }; then kf_revert '/etc/nixos/katafleet-module.nix' '/etc/nixos/katafleet-defaults.json' '/etc/nixos/katafleet.nix'; kf_report 1 failed 'cannot write the NixOS configuration; nothing changed'; exit 1; fi
if grep -qx '# katafleet: end of the helpers' "$0" 2>/dev/null; then
    { echo KF_LOCK_WAIT=900; sed '/^# katafleet: end of the helpers$/q' "$0"; cat <<'KF_DEADLINE_SCRIPT_END'
kf_aid=$1
rm -f "$0.pid"
if [ "$(kf_nixos_get armed)" != "$kf_aid" ]; then rm -f "$0"; exit 0; fi
kf_sys=$(kf_nixos_get system)
if kf_out=$(kf_txn_revert 2>&1); then
    kf_what="no commit came within the deadline, so the previous system is back: $kf_out"
else
    kf_what="no commit came within the deadline, and putting the previous system back failed: $kf_out"
fi
printf 'at=%s
system=%s
result=%s
' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$kf_sys" "$(kf_oneline "$kf_what")" >"$KF_DEADLINE_FIRED"
sync
rm -f "$0"
KF_DEADLINE_SCRIPT_END
    } >"$KF_RUN/deadline.sh"
fi
kf_nixos_activate 1 180 '/etc/nixos/katafleet-module.nix' '/etc/nixos/katafleet-defaults.json' '/etc/nixos/katafleet.nix' || exit 1
kf_record 1 '/var/lib/katafleet/manifest.json' ewogICJmaWxlcyI6IHsKICAgICIvZXRjL25peG9zL2thdGFmbGVldC1kZWZhdWx0cy5qc29uIjogewogICAgICAic2hhMjU2IjogImQ2YjFiNThiOThmMzUyZjY0NDFmYjU5MjFmYWZjM2ExODFjMjdlMGRiNmI4NzlmZTZlYWViY2FjZjkzYmNlNTkiLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0sCiAgICAiL2V0Yy9uaXhvcy9rYXRhZmxlZXQtbW9kdWxlLm5peCI6IHsKICAgICAgInNoYTI1NiI6ICI0NWNjYWIzMWVhZWZjYjIzNWIxMzIxYTYzZTMzMTIwZDg5ZDg3YmEwNDA0OWJhMTgyZDBlNmY5MGFjMjIxY2ZmIiwKICAgICAgImNyZWF0ZWQiOiB0cnVlCiAgICB9LAogICAgIi9ldGMvbml4b3Mva2F0YWZsZWV0Lm5peCI6IHsKICAgICAgInNoYTI1NiI6ICIyNGUwYWZlOTllZjU2MDQwMjY1YWVhM2NhMDNlNGE1MmNkMzdhMzVhZTE3YmZhOGZkY2RiYmM3ODA1ZTIwYTFkIiwKICAgICAgImNyZWF0ZWQiOiB0cnVlCiAgICB9CiAgfSwKICAiY29udGFpbmVyZF9oYW5kbGVycyI6IFsKICAgICJrYXRhIiwKICAgICJrYXRhLXFlbXUiCiAgXSwKICAiZG9ja2VyX3J1bnRpbWVzIjogW10KfQo=

kf_record 1 '/var/lib/katafleet/manifest.json' ewogICJmaWxlcyI6IHsKICAgICIvZXRjL25peG9zL2thdGFmbGVldC1kZWZhdWx0cy5qc29uIjogewogICAgICAic2hhMjU2IjogImQ2YjFiNThiOThmMzUyZjY0NDFmYjU5MjFmYWZjM2ExODFjMjdlMGRiNmI4NzlmZTZlYWViY2FjZjkzYmNlNTkiLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0sCiAgICAiL2V0Yy9uaXhvcy9rYXRhZmxlZXQtbW9kdWxlLm5peCI6IHsKICAgICAgInNoYTI1NiI6ICI0NWNjYWIzMWVhZWZjYjIzNWIxMzIxYTYzZTMzMTIwZDg5ZDg3YmEwNDA0OWJhMTgyZDBlNmY5MGFjMjIxY2ZmIiwKICAgICAgImNyZWF0ZWQiOiB0cnVlCiAgICB9LAogICAgIi9ldGMvbml4b3Mva2F0YWZsZWV0Lm5peCI6IHsKICAgICAgInNoYTI1NiI6ICIyNGUwYWZlOTllZjU2MDQwMjY1YWVhM2NhMDNlNGE1MmNkMzdhMzVhZTE3YmZhOGZkY2RiYmM3ODA1ZTIwYTFkIiwKICAgICAgImNyZWF0ZWQiOiB0cnVlCiAgICB9CiAgfSwKICAiY29udGFpbmVyZF9oYW5kbGVycyI6IFsKICAgICJrYXRhIiwKICAgICJrYXRhLXFlbXUiCiAgXSwKICAiZG9ja2VyX3J1bnRpbWVzIjogW10KfQo=
kf_put /var/lib/katafleet/last-provision 644 "$(printf 'time=%s\nkatafleet=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '0.0.0-golden' | base64 | tr -d '\n')"
exit 0
