# katafleet prelude: every script sent to a host starts with this. It
# defines the one wire protocol (see src/script/wire.rs): every line the
# controller reads starts with `@@`.
export LC_ALL=C
# The Go programs the scripts run for one answer each (containerd, ctr,
# dockerd, docker) run on one thread and without a garbage collector: 15 %
# less CPU per call with six hosts busy at once (bench/NOTES.md). Daemons
# systemd starts do not inherit this.
export GOMAXPROCS=1 GOGC=off
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
kf_report() { kf_said "$3"; printf '@@step %s %s %s\n' "$1" "$2" "$kf_said"; }
kf_warn() { kf_said "$1"; printf '@@warn %s\n' "$kf_said"; }
# $1 as one line of at most 3000 bytes, in $kf_said. Most messages are
# that already, and then it costs no fork: a run reports every step.
kf_said() {
    kf_said=$1
    case $kf_said in
        *"
"*) kf_said=$(kf_oneline "$kf_said" | cut -c1-3000) ;;
        *) [ "${#kf_said}" -le 3000 ] || kf_said=$(printf '%s' "$kf_said" | cut -c1-3000) ;;
    esac
}

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
[ -d /var/lib/katafleet ] || mkdir -p /var/lib/katafleet || { kf_report 0 failed "cannot create /var/lib/katafleet"; exit 1; }
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

# kf_word N TEXT: the Nth word of TEXT (split at blanks), in $kf_word,
# empty when there are fewer; the shell splits it, so no fork.
kf_word() {
    kf_n=$1
    set -f
    # shellcheck disable=SC2086 # split into words on purpose
    set -- $2
    set +f
    kf_word=
    [ "$#" -ge "$kf_n" ] || return 0
    shift "$((kf_n - 1))"
    kf_word=$1
}

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
    kf_rm "$KF_TXN" /opt/.katafleet-removed "$KF_DEADLINE_FIRED"
    # With the directory the manifest's copy goes to: one mkdir.
    mkdir -p "$KF_TXN/keep/var/lib/katafleet" || { kf_report 0 failed "cannot create $KF_TXN"; exit 1; }
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
    kf_rm /opt/.katafleet-removed
    if [ -e "$KF_TXN/forget" ]; then
        rm -rf /var/lib/katafleet
    elif [ -f "$KF_TXN/tree" ]; then
        kf_rm /var/lib/katafleet/last-upgrade && mv "$KF_TXN" /var/lib/katafleet/last-upgrade && kf_prune_releases
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
# facts probe at the end of the same script reads instead of asking again,
# and the dump the validation made ($KF_RUN/validated-dump), which the
# restart's check reads: a write to containerd's configuration after them,
# or any file put back, makes them stale.
kf_unseen() {
    kf_unseen_checks
    kf_rm "$KF_RUN/validated-dump"
}

kf_unseen_checks() { kf_rm "$KF_RUN/seen-dump" "$KF_RUN/seen-cri"; }

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
    kf_unseen_checks
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
    # `config dump` reads only the files, and the validation just dumped
    # these same ones (a write since would have dropped it): containerd
    # need not run again for the same answer.
    if [ -s "$KF_RUN/validated-dump" ]; then
        mv -f "$KF_RUN/validated-dump" "$KF_RUN/seen-dump"
    elif ! kf_containerd_dump >"$KF_RUN/seen-dump" 2>"$KF_RUN/dump.err"; then
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
    [ -d /opt ] || mkdir -p /opt || { kf_report "$kf_id" failed "cannot create /opt"; return 1; }
    # Staging left by a run that was killed; no other run is here (the lock).
    kf_rm /opt/.katafleet-stage.*
    # The release and its extracted tree sit in staging, plus a margin; the
    # previous tree is only renamed. Checked before a byte is written.
    kf_need=$(( (kf_size + kf_extracted) / 1048576 + 64 ))
    kf_free=
    if kf_df=$(df -Pk /opt 2>/dev/null); then
        kf_word 4 "${kf_df#*
}"
        case $kf_word in '' | *[!0-9]*) ;; *) kf_free=$((kf_word / 1024)) ;; esac
    fi
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
    # The asset goes with the staging directory below.
    if [ ! -x "$kf_stage/root$kf_shim" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "the release has no executable $kf_shim; nothing was installed"; return 1
    fi
    printf '%s' "$kf_marker" >"$kf_stage/root/opt/kata/.katafleet-release"
    kf_release="$KF_RELEASES/$kf_rel"
    if [ "$(readlink /opt/kata 2>/dev/null)" = "kata-releases/$kf_rel" ]; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "$kf_release is already the current release, yet its marker differs; remove it and run again"; return 1
    fi
    kf_rm "$kf_release"
    if ! { [ -d "$KF_RELEASES" ] || mkdir -p "$KF_RELEASES"; } || ! mv "$kf_stage/root/opt/kata" "$kf_release"; then
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
    if [ -z "$kf_url" ]; then kf_bytes "$kf_size"; return; fi
    { kf_download "$kf_url" "$kf_size" 2>"$kf_stage/download.err"; echo $? >"$kf_stage/download.rc"; } | kf_bytes "$kf_size"
}

# kf_bytes N: exactly the first N bytes of stdin (fewer if it ends first),
# never one more. GNU dd copies them in 64 KiB blocks (`fullblock`: a short
# read from the pipe does not end the count early); `head -c` reads 8 KiB at
# a time, which costs several times the CPU (bench/NOTES.md). A dd without
# these flags (BusyBox) refuses them before it reads a byte, and head takes
# over.
kf_bytes() {
    dd bs=64K iflag=fullblock,count_bytes count="$1" status=none 2>/dev/null || head -c "$1"
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
    if ! kf_put_ours "$2" "$3" 2>"$KF_RUN/record.err" || ! { sync "$2" 2>/dev/null || sync; }; then
        kf_report "$1" failed "step $1 is done, but what katafleet owns could not be recorded in $2: $(cat "$KF_RUN/record.err" 2>/dev/null)"
        exit 1
    fi
}
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
kf_keep '/etc/containerd/config.toml'
if ! kf_out=$({ kf_unchanged '/etc/containerd/config.toml' 'a68f9f4e1cefb51bf1ddbfddd78913e7c60c1fb66db782d4f399baba04710462' && kf_put_back '/etc/containerd/config.toml' '/var/lib/katafleet/backup/etc/containerd/config.toml' '6355083d91d4ed68a14819d9bca266dbd16384fac5ebc594e1c3f68c7d3f3c9a'; } 2>&1); then kf_revert '/etc/containerd/config.toml'; kf_report 1 failed "cannot put the containerd configuration back, so nothing changed: $kf_out"; exit 1; fi
if ! kf_out=$({ kf_unseen; if [ -e '/etc/containerd/config.toml' ]; then timeout 30 containerd --config '/etc/containerd/config.toml' config dump >"$KF_RUN/validated-dump"; fi; } 2>&1 >/dev/null); then kf_revert '/etc/containerd/config.toml'; kf_report 1 failed "containerd rejected the new configuration, so the old one is back and containerd was not touched: $kf_out"; exit 1; fi
if kf_running containerd; then
    if ! { kf_containerd_restart 1  && kf_containerd_lacks 'kata' 'kata-qemu'; } >"$KF_RUN/activate.log" 2>&1; then
        kf_revert '/etc/containerd/config.toml'
        if ! kf_containerd_restart 0 >"$KF_RUN/again.log" 2>&1; then
            kf_report 1 failed "containerd failed with the new configuration ($(cat "$KF_RUN/activate.log")), and again after the old one was put back ($(cat "$KF_RUN/again.log")): containerd may be DOWN on this host"; exit 1
        fi
        kf_report 1 failed "containerd failed with the new configuration, so the old one is back and containerd runs with it: $(cat "$KF_RUN/activate.log")"; exit 1
    fi
    echo containerd >>"$KF_TXN/services"
    kf_report 1 changed 'put the containerd configuration back as it was before katafleet and restarted containerd; running containers keep running'
else
    kf_report 1 warn "configured containerd; $KF_NOTE"
fi
kf_record 1 '/var/lib/katafleet/manifest.json' '{
  "files": {
    "/etc/docker/daemon.json": {
      "sha256": "acf6d4dbc9d0de6725c67a50cfe904500d08435d7ad5886499570779493c776c",
      "created": true
    },
    "/etc/modules-load.d/katafleet.conf": {
      "sha256": "dd71095b5480344a224ee7f4dc67107d1874d0dbbc4b520a92b20b8b33e6a5c0",
      "created": true
    },
    "/opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml": {
      "sha256": "1ccd3423536e4ac1eaaffbed1e01c6072bed1344301d6145da7d75f94b641f77",
      "created": true
    }
  },
  "containerd_handlers": [],
  "docker_runtimes": [
    "kata",
    "kata-qemu"
  ],
  "kvm_members_added": [
    "kf"
  ]
}
'

kf_begin 2
kf_keep '/etc/docker/daemon.json'
if ! kf_out=$({ kf_unchanged '/etc/docker/daemon.json' 'acf6d4dbc9d0de6725c67a50cfe904500d08435d7ad5886499570779493c776c' && kf_put '/etc/docker/daemon.json' 644 '{
  "runtimes": {}
}
'; } 2>&1); then kf_revert '/etc/docker/daemon.json'; kf_report 2 failed "cannot put the docker configuration back, so nothing changed: $kf_out"; exit 1; fi
if ! kf_out=$(if [ -e /etc/docker/daemon.json ] && dockerd --help 2>&1 | grep -q -- --validate; then timeout 30 dockerd --validate --config-file /etc/docker/daemon.json; fi 2>&1 >/dev/null); then kf_revert '/etc/docker/daemon.json'; kf_report 2 failed "docker rejected the new configuration, so the old one is back and docker was not touched: $kf_out"; exit 1; fi
if kf_running docker; then
    if ! { kf_docker_reload  && kf_docker_lacks 'kata' 'kata-qemu'; } >"$KF_RUN/activate.log" 2>&1; then
        kf_revert '/etc/docker/daemon.json'
        if ! kf_docker_back >"$KF_RUN/again.log" 2>&1; then
            kf_report 2 failed "docker failed with the new configuration ($(cat "$KF_RUN/activate.log")), and again after the old one was put back ($(cat "$KF_RUN/again.log")): docker may be DOWN on this host"; exit 1
        fi
        kf_report 2 failed "docker failed with the new configuration, so the old one is back and docker runs with it: $(cat "$KF_RUN/activate.log")"; exit 1
    fi
    if ! kf_out=$({ rm -f '/etc/docker/daemon.json'; } 2>&1); then kf_revert '/etc/docker/daemon.json'; kf_docker_back >/dev/null 2>&1; kf_report 2 failed "cannot put the docker configuration back, so katafleet's is back: $kf_out"; exit 1; fi
    echo docker >>"$KF_TXN/services"
    kf_report 2 changed 'put the docker configuration back as it was before katafleet and reloaded docker; running containers keep running'
else
    if ! kf_out=$({ rm -f '/etc/docker/daemon.json'; } 2>&1); then kf_revert '/etc/docker/daemon.json'; kf_report 2 failed "cannot put the docker configuration back, so katafleet's is back: $kf_out"; exit 1; fi
    kf_report 2 warn "configured docker; $KF_NOTE"
fi
kf_record 2 '/var/lib/katafleet/manifest.json' '{
  "files": {
    "/etc/modules-load.d/katafleet.conf": {
      "sha256": "dd71095b5480344a224ee7f4dc67107d1874d0dbbc4b520a92b20b8b33e6a5c0",
      "created": true
    },
    "/opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml": {
      "sha256": "1ccd3423536e4ac1eaaffbed1e01c6072bed1344301d6145da7d75f94b641f77",
      "created": true
    }
  },
  "containerd_handlers": [],
  "docker_runtimes": [],
  "kvm_members_added": [
    "kf"
  ]
}
'

kf_begin 3
kf_keep '/etc/modules-load.d/katafleet.conf'
if ! kf_out=$({ kf_unchanged '/etc/modules-load.d/katafleet.conf' 'dd71095b5480344a224ee7f4dc67107d1874d0dbbc4b520a92b20b8b33e6a5c0' && rm -f '/etc/modules-load.d/katafleet.conf'; } 2>&1); then kf_revert '/etc/modules-load.d/katafleet.conf'; kf_report 3 failed 'cannot remove /etc/modules-load.d/katafleet.conf, so it was left as it was: '"$kf_out"; exit 1; fi
kf_report 3 changed 'removed /etc/modules-load.d/katafleet.conf'
kf_record 3 '/var/lib/katafleet/manifest.json' '{
  "files": {
    "/opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml": {
      "sha256": "1ccd3423536e4ac1eaaffbed1e01c6072bed1344301d6145da7d75f94b641f77",
      "created": true
    }
  },
  "containerd_handlers": [],
  "docker_runtimes": [],
  "kvm_members_added": [
    "kf"
  ]
}
'

kf_begin 4
if ! kf_out=$(kf_remove_trees 0 '/opt/kata' 2>&1); then
    if kf_back=$(kf_trees_back 2>&1); then kf_report 4 failed "cannot remove the release trees, so they are back where they were: $kf_out"; exit 1; fi
    kf_report 4 failed "cannot remove the release trees ($kf_out), nor put them back ($kf_back): see /opt/.katafleet-removed"; exit 1
fi
kf_report 4 changed 'removed /opt/kata'
kf_record 4 '/var/lib/katafleet/manifest.json' '{
  "files": {},
  "containerd_handlers": [],
  "docker_runtimes": [],
  "kvm_members_added": [
    "kf"
  ]
}
'

kf_begin 5
if ! kf_out=$(gpasswd -d 'kf' 'kvm' 2>&1); then kf_report 5 failed 'cannot remove kf from kvm: '"$kf_out"; exit 1; fi
printf '%s %s\n' 'kf' 'kvm' >>"$KF_TXN/groups-removed"
kf_report 5 changed 'removed kf from kvm'
kf_record 5 '/var/lib/katafleet/manifest.json' '{
  "files": {},
  "containerd_handlers": [],
  "docker_runtimes": []
}
'

kf_begin 6
if ! kf_out=$(kf_forget 2>&1); then kf_report 6 failed "cannot remove katafleet's state: $kf_out"; exit 1; fi
kf_report 6 changed 'removed katafleet'\''s state (its record and the originals it saved); /var/lib/katafleet goes once the run is verified'
exit 0
