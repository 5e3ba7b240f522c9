# katafleet prelude: every script sent to a host starts with this. It
# defines the one wire protocol (see src/script/wire.rs): every line the
# controller reads starts with `@@`.
export LC_ALL=C
PATH=/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
have() { command -v "$1" >/dev/null 2>&1; }
kf_oneline() { printf '%s' "$1" | tr '\n' ' '; }

# @@kv KEY VALUE: one value, newlines folded.
kf_kv() { printf '@@kv %s %s\n' "$1" "$(kf_oneline "$2")"; }

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

# katafleet apply helpers: after the prelude in every script that changes
# a host.
set -u
umask 022
KF_RUN=$(mktemp -d) || { kf_report 0 failed "cannot create a temporary directory"; exit 1; }
trap 'rm -rf "$KF_RUN"' EXIT

# One run at a time per host: every script that changes something holds
# this lock until it exits (the kernel drops it if the script is killed).
mkdir -p /var/lib/katafleet || { kf_report 0 failed "cannot create /var/lib/katafleet"; exit 1; }
if have flock; then
    exec 9>>/var/lib/katafleet/lock
    if ! flock -n 9; then
        kf_report 0 failed "another katafleet run is changing this host right now (it holds /var/lib/katafleet/lock); nothing was changed: run again once it has finished"
        exit 1
    fi
else
    kf_warn "flock is missing here, so nothing stops two katafleet runs from changing this host at once"
fi
KF_TXN=/var/lib/katafleet/txn
KF_RELEASES=/opt/kata-releases

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
    mkdir -p "$(dirname "$kf_k")" || return 1
    rm -f "$kf_k" "$kf_k.absent"
    if [ -e "$2" ]; then cp -p "$2" "$kf_k"; else : >"$kf_k.absent"; fi
}

# Puts files back as kept under $1 (a keep directory), byte-for-byte.
kf_restore() {
    kf_dir=$1; shift
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
    rm -rf "$KF_TXN"
    mkdir -p "$KF_TXN/keep" || { kf_report 0 failed "cannot create $KF_TXN"; exit 1; }
    kf_save "$KF_TXN/keep" /var/lib/katafleet/manifest.json
}

# Verified. A run that switched releases keeps its transaction as the
# record `katafleet rollback` undoes; any other run's goes.
kf_txn_commit() {
    [ -d "$KF_TXN" ] || return 0
    if [ -f "$KF_TXN/tree" ]; then
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
# memberships; then the daemons run with it all again.
kf_undo() {
    [ -d "$1" ] || { echo "no change of this run is left to put back"; return 1; }
    if [ -f "$1/paths" ]; then
        # shellcheck disable=SC2046 # one path per line, none with spaces
        kf_restore "$1/keep" $(cat "$1/paths") || return 1
    fi
    kf_switch_back "$1" "${2:-}" || return 1
    kf_restore "$1/keep" /var/lib/katafleet/manifest.json || return 1
    if [ -f "$1/groups" ]; then
        while read -r kf_u kf_g; do gpasswd -d "$kf_u" "$kf_g" >/dev/null 2>&1; done <"$1/groups"
    fi
    kf_rc=0
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

# containerd: restart (running containers survive: the unit has
# KillMode=process), then it must answer, load its CRI plugin when $1 = 1,
# and show every handler after $1 in `config dump`. Prints why not.
kf_containerd_restart() {
    kf_cri=$1; shift
    # A deliberate restart must not be refused by systemd's start-rate limit.
    systemctl reset-failed containerd 2>/dev/null
    timeout 90 systemctl restart containerd 2>&1 || return 1
    have ctr || return 0
    kf_n=0
    until timeout 5 ctr version >/dev/null 2>&1; do
        kf_n=$((kf_n + 1))
        if [ "$kf_n" -ge 30 ]; then echo "containerd does not answer on its socket after the restart"; return 1; fi
        sleep 1
    done
    if [ "$kf_cri" = 1 ]; then
        kf_n=0
        while :; do
            kf_state=$(timeout 10 ctr plugins ls 2>/dev/null | awk '($1 == "io.containerd.grpc.v1" && $2 == "cri") || ($1 == "io.containerd.cri.v1" && $2 == "runtime") { print $NF; exit }')
            [ "$kf_state" = ok ] && break
            kf_n=$((kf_n + 1))
            if [ "$kf_n" -ge 10 ]; then
                echo "containerd's CRI plugin did not load (${kf_state:-absent}): $(timeout 10 ctr plugins ls -d id==cri 2>&1; timeout 10 ctr plugins ls -d id==runtime 2>&1)"
                return 1
            fi
            sleep 1
        done
    fi
    kf_dump=$(timeout 30 containerd config dump 2>&1) || { echo "containerd config dump failed: $kf_dump"; return 1; }
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
    # The extracted tree sits in staging, plus a margin; the previous tree
    # is only renamed. Checked before a byte is written.
    kf_need=$(( kf_extracted / 1048576 + 64 ))
    kf_free=$(df -Pk /opt 2>/dev/null | awk 'NR == 2 { print int($4 / 1024) }')
    if [ -n "$kf_free" ] && [ "$kf_free" -lt "$kf_need" ]; then
        kf_report "$kf_id" failed "not enough space on the filesystem of /opt: ${kf_free} MiB free, ${kf_need} MiB needed; nothing was written"
        return 1
    fi
    kf_stage=$(mktemp -d /opt/.katafleet-stage.XXXXXX) || { kf_report "$kf_id" failed "cannot create a staging directory in /opt"; return 1; }
    if ! { mkdir "$kf_stage/root" && mkfifo "$kf_stage/hash"; }; then
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "cannot prepare $kf_stage"; return 1
    fi
    # One pass over the release: hashed while it streams into the extractor,
    # into staging only; nothing leaves staging unless the hash matches.
    sha256sum <"$kf_stage/hash" >"$kf_stage/sum" &
    kf_hasher=$!
    if ! kf_out=$(kf_release_bytes | tee "$kf_stage/hash" | tar --no-same-owner -x -f - -C "$kf_stage/root" --use-compress-program="$kf_decomp" 2>&1); then
        kill "$kf_hasher" 2>/dev/null; wait "$kf_hasher" 2>/dev/null
        if kf_why=$(kf_download_failed); then rm -rf "$kf_stage"; kf_report "$kf_id" failed "$kf_why; nothing was installed"; return 1; fi
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "extracting the release failed (a truncated stream or not a release archive): $kf_out; nothing was installed"; return 1
    fi
    wait "$kf_hasher"
    kf_actual=$(cut -d' ' -f1 "$kf_stage/sum")
    if [ "$kf_actual" != "$kf_sha" ]; then
        if kf_why=$(kf_download_failed); then rm -rf "$kf_stage"; kf_report "$kf_id" failed "$kf_why; nothing was installed"; return 1; fi
        rm -rf "$kf_stage"; kf_report "$kf_id" failed "checksum mismatch: expected sha256 $kf_sha, got $kf_actual (another file, or the transfer was cut off); nothing was installed"; return 1
    fi
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
# (fetch = "host"), downloaded by this host. Either way kf_install hashes
# them while they are extracted into staging.
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
kf_txn_begin

kf_begin 1
rm -rf /var/lib/katafleet/nixos-previous && mkdir -p /var/lib/katafleet/nixos-previous
kf_keep '/etc/nixos/katafleet-module.nix'; if [ -e '/etc/nixos/katafleet-module.nix' ]; then mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix')" && cp -p '/etc/nixos/katafleet-module.nix' /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix'; else mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix')" && : >/var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix'.absent; fi
kf_keep '/etc/nixos/katafleet.nix'; if [ -e '/etc/nixos/katafleet.nix' ]; then mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix')" && cp -p '/etc/nixos/katafleet.nix' /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix'; else mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix')" && : >/var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix'.absent; fi
if ! { kf_put '/etc/nixos/katafleet-module.nix' 644 IyBOaXhPUyBtb2R1bGU6IHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycwojCiMgV2lyZXMgbml4cGtncycgYGthdGEtcnVudGltZWAgaW50byBjb250YWluZXJkIGFuZC9vciBEb2NrZXIuIEV2ZXJ5dGhpbmcgaXQKIyBoYW5kcyB0byBhIGNvbnRhaW5lciBtYW5hZ2VyIGlzIGEgc3RvcmUgcGF0aDogdGhlIHNoaW0sIGFuZCBhIGNvbmZpZ3VyYXRpb24KIyBkaXJlY3RvcnkgYnVpbHQgZnJvbSB0aGUgcGFja2FnZSdzIHNoaXBwZWQgY29uZmlndXJhdGlvbiBwbHVzIGEgYGNvbmZpZy5kYAojIGRyb3AtaW4gcmVuZGVyZWQgZnJvbSBgc2V0dGluZ3NgLiBOb3RoaW5nIGxhbmRzIGluIC9vcHQsIGFuZCB0aGUgZGVmYXVsdAojIHJ1bnRpbWUgb2YgY29udGFpbmVyZCBvciBEb2NrZXIgaXMgbmV2ZXIgdG91Y2hlZC4KIwojIEZhY3RzIHRoaXMgbW9kdWxlIHJlbGllcyBvbiAoY2hlY2tlZCBhZ2FpbnN0IHRoZSBzb3VyY2VzIG5hbWVkIGhlcmUpOgojIC0gbml4cGtncycga2F0YS1ydW50aW1lID49IDQuMCBpcyBydW50aW1lLXJzLCBidWlsdCB3aXRoCiMgICBgQklORElSPSRvdXQvYmluYDogdGhlIHNoaW0gaXMgYCRvdXQvYmluL2NvbnRhaW5lcmQtc2hpbS1rYXRhLXYyYCBhbmQgdGhlCiMgICBjb25maWd1cmF0aW9ucyBhcmUgYCRvdXQvc2hhcmUvZGVmYXVsdHMva2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvKi50b21sYAojICAgKHBrZ3MvYnktbmFtZS9rYS9rYXRhLXJ1bnRpbWUvcGFja2FnZS5uaXg7IHNyYy9ydW50aW1lLXJzL01ha2VmaWxlKS4KIyAgIEJlZm9yZSA0LjAgaXQgaXMgdGhlIEdvIHJ1bnRpbWUgYnVpbHQgd2l0aCBIWVBFUlZJU09SUz1xZW11OiBzYW1lIHNoaW0KIyAgIHBhdGgsIG9uZSBjb25maWd1cmF0aW9uIGF0IGAkb3V0L3NoYXJlL2RlZmF1bHRzL2thdGEtY29udGFpbmVycy8KIyAgIGNvbmZpZ3VyYXRpb24tcWVtdS50b21sYCwgcGx1cyB0aGUgYGthdGEtcnVudGltZWAgYmluYXJ5LgojIC0gcnVudGltZS1ycyBidWlsZHMgY29uZmlndXJhdGlvbnMgZm9yIHFlbXUsIGRyYWdvbmJhbGwgKGJ1aWx0IGludG8gdGhlCiMgICBzaGltKSBhbmQgZmlyZWNyYWNrZXIgb24geDg2XzY0IGFuZCBhYXJjaDY0LCBhbmQgZm9yIGNsb3VkLWh5cGVydmlzb3Igb24KIyAgIHg4Nl82NCBvbmx5IChzcmMvcnVudGltZS1ycy9hcmNoLyotb3B0aW9ucy5taykuIFRoZSBuaXhwa2dzIHBhY2thZ2UgcG9pbnRzCiMgICBxZW11IGF0IGl0cyBvd24gcWVtdV9rdm07IGNsb3VkLWh5cGVydmlzb3IgYW5kIGZpcmVjcmFja2VyIGNvbmZpZ3VyYXRpb25zCiMgICBzdGlsbCBuYW1lIGAkb3V0L2Jpbi88dm1tPmAsIHdoaWNoIHRoZSBwYWNrYWdlIGRvZXMgbm90IGNvbnRhaW4sIHNvIHRoaXMKIyAgIG1vZHVsZSBwb2ludHMgdGhlbSBhdCBuaXhwa2dzJyBjbG91ZC1oeXBlcnZpc29yIGFuZCBmaXJlY3JhY2tlci4KIyAtIEJvdGggcnVudGltZXMgY2Fub25pY2FsaXNlIHRoZSBjb25maWd1cmF0aW9uIHBhdGggKHN5bWxpbmtzIHJlc29sdmVkKQojICAgYW5kIHRoZW4gbWVyZ2UgYGNvbmZpZy5kLyoudG9tbGAgbmV4dCB0byBpdCBpbiBuYW1lIG9yZGVyOyBydW50aW1lLXJzCiMgICByZWplY3RzIGEgZHJvcC1pbiB0aGF0IGlzIGEgc3ltbGluayAoa2F0YS10eXBlcyBjb25maWcvZHJvcF9pbi5ycykuIFNvIHRoZQojICAgc2hpcHBlZCBmaWxlIGFuZCB0aGUgZHJvcC1pbiBhcmUgKmNvcGllZCogaW50byBvbmUgc3RvcmUgZGlyZWN0b3J5LgojIC0gS2F0YSdzIG93biBtaW5pbXVtIGd1ZXN0IG1lbW9yeTogNjQgTWlCIGZvciBxZW11LCBjbG91ZC1oeXBlcnZpc29yIGFuZAojICAgZHJhZ29uYmFsbCwgMTI4IE1pQiBmb3IgZmlyZWNyYWNrZXIgKGthdGEtdHlwZXMgY29uZmlnL2RlZmF1bHQucnMpLgp7IGNvbmZpZywgbGliLCBwa2dzLCAuLi4gfToKCmxldAogIGluaGVyaXQgKGxpYikKICAgIGxpdGVyYWxFeHByZXNzaW9uCiAgICBta0RlZmF1bHQKICAgIG1rRW5hYmxlT3B0aW9uCiAgICBta0lmCiAgICBta01lcmdlCiAgICBta09wdGlvbgogICAgbWtQYWNrYWdlT3B0aW9uCiAgICBvcHRpb25hbAogICAgdHlwZXMKICAgIDsKCiAgY2ZnID0gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczsKCiAgc2V0dGluZ3NGb3JtYXQgPSBwa2dzLmZvcm1hdHMudG9tbCB7IH07CgogIHN5c3RlbSA9IHBrZ3Muc3RkZW52Lmhvc3RQbGF0Zm9ybS5zeXN0ZW07CiAgc3VwcG9ydGVkU3lzdGVtcyA9IFsgIng4Nl82NC1saW51eCIgImFhcmNoNjQtbGludXgiIF07CgogICMgcnVudGltZS1ycyBmcm9tIDQuMCBvbjsgdGhlIEdvIHJ1bnRpbWUgYmVmb3JlLgogIGlzUnVudGltZVJzID0gbGliLnZlcnNpb25BdExlYXN0IChsaWIuZ2V0VmVyc2lvbiBjZmcucGFja2FnZSkgIjQiOwogIHJ1bnRpbWVOYW1lID0gaWYgaXNSdW50aW1lUnMgdGhlbiAicnVudGltZS1ycyIgZWxzZSAidGhlIEdvIHJ1bnRpbWUiOwoKICAjIFBlciBoeXBlcnZpc29yOiB0aGUgVE9NTCBzZWN0aW9uIGl0cyBzZXR0aW5ncyBsaXZlIGluLCB0aGUgY29uZmlndXJhdGlvbgogICMgZmlsZSBlYWNoIHJ1bnRpbWUgc2hpcHMgZm9yIGl0LCB0aGUgc2hvcnQgbmFtZSBrYXRhLWRlcGxveSBhbmQga2F0YWZsZWV0J3MKICAjIG90aGVyIGluc3RhbGwgcGF0aHMgdXNlIGluIGhhbmRsZXIgbmFtZXMsIGFuZCBLYXRhJ3MgbWluaW11bSBtZW1vcnkuCiAgaHlwZXJ2aXNvcnMgPSB7CiAgICBxZW11ID0gewogICAgICBzZWN0aW9uID0gInFlbXUiOwogICAgICBzaG9ydCA9ICJxZW11IjsKICAgICAgcnNDb25maWcgPSAiY29uZmlndXJhdGlvbi1xZW11LXJ1bnRpbWUtcnMudG9tbCI7CiAgICAgIHJzU3lzdGVtcyA9IHN1cHBvcnRlZFN5c3RlbXM7CiAgICAgIGdvQ29uZmlnID0gImNvbmZpZ3VyYXRpb24tcWVtdS50b21sIjsKICAgICAgbWluTWVtb3J5ID0gNjQ7CiAgICB9OwogICAgY2xvdWQtaHlwZXJ2aXNvciA9IHsKICAgICAgc2VjdGlvbiA9ICJjbGgiOwogICAgICBzaG9ydCA9ICJjbGgiOwogICAgICByc0NvbmZpZyA9ICJjb25maWd1cmF0aW9uLWNsaC1ydW50aW1lLXJzLnRvbWwiOwogICAgICByc1N5c3RlbXMgPSBbICJ4ODZfNjQtbGludXgiIF07CiAgICAgIGdvQ29uZmlnID0gbnVsbDsKICAgICAgbWluTWVtb3J5ID0gNjQ7CiAgICB9OwogICAgZHJhZ29uYmFsbCA9IHsKICAgICAgc2VjdGlvbiA9ICJkcmFnb25iYWxsIjsKICAgICAgc2hvcnQgPSAiZHJhZ29uYmFsbCI7CiAgICAgIHJzQ29uZmlnID0gImNvbmZpZ3VyYXRpb24tZHJhZ29uYmFsbC50b21sIjsKICAgICAgcnNTeXN0ZW1zID0gc3VwcG9ydGVkU3lzdGVtczsKICAgICAgZ29Db25maWcgPSBudWxsOwogICAgICBtaW5NZW1vcnkgPSA2NDsKICAgIH07CiAgICBmaXJlY3JhY2tlciA9IHsKICAgICAgc2VjdGlvbiA9ICJmaXJlY3JhY2tlciI7CiAgICAgIHNob3J0ID0gImZjIjsKICAgICAgcnNDb25maWcgPSAiY29uZmlndXJhdGlvbi1ycy1mYy50b21sIjsKICAgICAgcnNTeXN0ZW1zID0gc3VwcG9ydGVkU3lzdGVtczsKICAgICAgZ29Db25maWcgPSBudWxsOwogICAgICBtaW5NZW1vcnkgPSAxMjg7CiAgICB9OwogIH07CgogIGh2ID0gaHlwZXJ2aXNvcnMuJHtjZmcuaHlwZXJ2aXNvcn07CgogIHNoaXBwZWQgPSBuYW1lOgogICAgbGV0IGggPSBoeXBlcnZpc29ycy4ke25hbWV9OyBpbgogICAgaWYgaXNSdW50aW1lUnMgdGhlbiBsaWIuZWxlbSBzeXN0ZW0gaC5yc1N5c3RlbXMgZWxzZSBoLmdvQ29uZmlnICE9IG51bGw7CiAgc2hpcHBlZE5hbWVzID0gbGliLmZpbHRlciBzaGlwcGVkIChsaWIuYXR0ck5hbWVzIGh5cGVydmlzb3JzKTsKCiAgZGVmYXVsdHNEaXIgPSAiJHtjZmcucGFja2FnZX0vc2hhcmUvZGVmYXVsdHMva2F0YS1jb250YWluZXJzIjsKICBzaGlwcGVkQ29uZmlnID0KICAgIGlmIGlzUnVudGltZVJzIHRoZW4gIiR7ZGVmYXVsdHNEaXJ9L3J1bnRpbWUtcnMvJHtodi5yc0NvbmZpZ30iCiAgICBlbHNlICIke2RlZmF1bHRzRGlyfS8ke2h2LmdvQ29uZmlnfSI7CgogIHNoaW0gPSAiJHtjZmcucGFja2FnZX0vYmluL2NvbnRhaW5lcmQtc2hpbS1rYXRhLXYyIjsKCiAgIyBUaGUgVk1NcyB0aGUgcGFja2FnZSBuYW1lcyBidXQgZG9lcyBub3QgY29udGFpbi4KICBjbGhQYXRoID0gIiR7cGtncy5jbG91ZC1oeXBlcnZpc29yfS9iaW4vY2xvdWQtaHlwZXJ2aXNvciI7CiAgZmNQYXRoID0gIiR7cGtncy5maXJlY3JhY2tlcn0vYmluL2ZpcmVjcmFja2VyIjsKICBqYWlsZXJQYXRoID0gIiR7cGtncy5maXJlY3JhY2tlcn0vYmluL2phaWxlciI7CgogIGRyb3BJbiA9IHNldHRpbmdzRm9ybWF0LmdlbmVyYXRlICI1MC1uaXhvcy50b21sIiBjZmcuc2V0dGluZ3M7CgogIGNvbmZpZ0RpciA9IHBrZ3MucnVuQ29tbWFuZCAia2F0YS1jb250YWluZXJzLWNvbmZpZy0ke2NmZy5oeXBlcnZpc29yfSIgeyB9ICcnCiAgICBta2RpciAtcCAkb3V0L2NvbmZpZy5kCiAgICBjcCAke3NoaXBwZWRDb25maWd9ICRvdXQvY29uZmlndXJhdGlvbi50b21sCiAgICBjcCAke2Ryb3BJbn0gJG91dC9jb25maWcuZC81MC1uaXhvcy50b21sCiAgJyc7CgogIGNvbmZpZ1BhdGggPSAiJHtjb25maWdEaXJ9L2NvbmZpZ3VyYXRpb24udG9tbCI7CgogICMgV2hlcmUgYSBzaGltIHN0YXJ0ZWQgd2l0aG91dCBDb25maWdQYXRoIChlLmcuIGJ5IHBsYWluIGBjdHJgKSBsb29rcyBmaXJzdC4KICBldGNDb25maWcgPQogICAgaWYgaXNSdW50aW1lUnMgdGhlbiAia2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvY29uZmlndXJhdGlvbi50b21sIgogICAgZWxzZSAia2F0YS1jb250YWluZXJzL2NvbmZpZ3VyYXRpb24udG9tbCI7CgogIGVmZmVjdGl2ZU1lbW9yeSA9IGNmZy5zZXR0aW5ncy5oeXBlcnZpc29yLiR7aHYuc2VjdGlvbn0uZGVmYXVsdF9tZW1vcnkgb3IgY2ZnLm1lbW9yeTsKCiAgIyBjb250YWluZXJkJ3MgQ1JJIHBsdWdpbiBpZCBieSBjb25maWd1cmF0aW9uIHZlcnNpb24uCiAgY3JpUGx1Z2luSWRzID0gewogICAgIjIiID0gImlvLmNvbnRhaW5lcmQuZ3JwYy52MS5jcmkiOwogICAgIjMiID0gImlvLmNvbnRhaW5lcmQuY3JpLnYxLnJ1bnRpbWUiOwogICAgIjQiID0gImlvLmNvbnRhaW5lcmQuY3JpLnYxLnJ1bnRpbWUiOwogIH07CiAgc3VwcG9ydGVkVmVyc2lvbnMgPSBtYXAgbGliLnRvSW50IChsaWIuYXR0ck5hbWVzIGNyaVBsdWdpbklkcyk7CiAgdmVyc2lvbkxpc3QgPSBsaWIuY29uY2F0TWFwU3RyaW5nc1NlcCAiLCAiIHRvU3RyaW5nIChsaWIuaW5pdCBzdXBwb3J0ZWRWZXJzaW9ucykKICAgICsgIiBvciAke3RvU3RyaW5nIChsaWIubGFzdCBzdXBwb3J0ZWRWZXJzaW9ucyl9IjsKICBjcmlQbHVnaW4gPSBjcmlQbHVnaW5JZHMuJHt0b1N0cmluZyBjZmcuY29udGFpbmVyZC5jb25maWdWZXJzaW9ufTsKCiAgIyBUaGUgdmVyc2lvbiBOaXhPUycgY29udGFpbmVyZCBtb2R1bGUgKG9yIHRoZSB1c2VyKSBnaXZlcyBjb250YWluZXJkJ3MKICAjIGNvbmZpZ3VyYXRpb247IG51bGwgd2hlbiB1bnNldCwgd2hpY2ggY29udGFpbmVyZCByZWFkcyBhcyB2ZXJzaW9uIDEuCiAgY29udGFpbmVyZFZlcnNpb24gPSBjb25maWcudmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy52ZXJzaW9uIG9yIG51bGw7CiAgY29udGFpbmVyZFZlcnNpb25TdXBwb3J0ZWQgPSBsaWIuZWxlbSBjb250YWluZXJkVmVyc2lvbiBzdXBwb3J0ZWRWZXJzaW9uczsKCiAgaGFuZGxlck5hbWVzID0gWyAia2F0YSIgImthdGEtJHtodi5zaG9ydH0iIF07CgogIGNvbnRhaW5lcmRSdW50aW1lID0gewogICAgcnVudGltZV90eXBlID0gImlvLmNvbnRhaW5lcmQua2F0YS52MiI7CiAgICBydW50aW1lX3BhdGggPSBzaGltOwogICAgcHJpdmlsZWdlZF93aXRob3V0X2hvc3RfZGV2aWNlcyA9IHRydWU7CiAgICBwb2RfYW5ub3RhdGlvbnMgPSBbICJpby5rYXRhY29udGFpbmVycy4qIiBdOwogICAgb3B0aW9ucy5Db25maWdQYXRoID0gY29uZmlnUGF0aDsKICB9OwoKICAjIFNheXMgcGxhaW5seSB3aGV0aGVyIHRoaXMgaG9zdCBjYW4gc3RhcnQgS2F0YSBWTXMgYW5kLCBpZiBub3QsIHdoeS4KICAjIGthdGEtY3RsIChydW50aW1lLXJzJyBvd24gY2hlY2tlcikgaXMgbm90IHBhcnQgb2Ygbml4cGtncycgcGFja2FnZTsgdGhlIEdvCiAgIyBydW50aW1lJ3MgYGthdGEtcnVudGltZSBjaGVja2AgaXMsIGFuZCBydW5zIHdoZW4gcHJlc2VudC4KICBjaGVja1Rvb2wgPSBwa2dzLndyaXRlU2hlbGxBcHBsaWNhdGlvbiB7CiAgICBuYW1lID0gImthdGEtaG9zdC1jaGVjayI7CiAgICBydW50aW1lSW5wdXRzID0gWyBwa2dzLmNvcmV1dGlscyBwa2dzLmdudWdyZXAgXTsKICAgIHRleHQgPSAnJwogICAgICBzaGltPSR7c2hpbX0KICAgICAgY29uZmlnPSR7Y29uZmlnUGF0aH0KICAgICAgZ29fcnVudGltZT0ke2lmIGlzUnVudGltZVJzIHRoZW4gIiIgZWxzZSAiJHtjZmcucGFja2FnZX0vYmluL2thdGEtcnVudGltZSJ9CiAgICAgIHByb2JsZW1zPTAKICAgICAgb2soKSB7IHByaW50ZiAnb2sgICAgJXNcbicgIiQxIjsgfQogICAgICBwcm9ibGVtKCkgeyBwcmludGYgJ0ZBSUwgICVzXG4nICIkMSI7IHByb2JsZW1zPSQoKHByb2JsZW1zICsgMSkpOyB9CgogICAgICBpZiBbIC1yIC9ydW4vc3lzdGVtZC9jb250YWluZXIgXSB8fCBbIC1lIC8uZG9ja2VyZW52IF0gfHwgWyAtZSAvcnVuLy5jb250YWluZXJlbnYgXTsgdGhlbgogICAgICAgIHByb2JsZW0gInRoaXMgaG9zdCBpcyBhIGNvbnRhaW5lcjogS2F0YSBuZWVkcyBhIGJhcmUtbWV0YWwgaG9zdCBvciBhIFZNIHdpdGggbmVzdGVkIHZpcnR1YWxpc2F0aW9uIgogICAgICBmaQoKICAgICAgaWYgWyAtYyAvZGV2L2t2bSBdOyB0aGVuCiAgICAgICAgaWYgWyAtciAvZGV2L2t2bSBdICYmIFsgLXcgL2Rldi9rdm0gXTsgdGhlbgogICAgICAgICAgb2sgIi9kZXYva3ZtIGlzIHVzYWJsZSBieSAkKGlkIC11bikiCiAgICAgICAgZWxzZQogICAgICAgICAgcHJvYmxlbSAiL2Rldi9rdm0gZXhpc3RzIGJ1dCAkKGlkIC11bikgY2Fubm90IG9wZW4gaXQgcmVhZC13cml0ZTogcnVuIGFzIHJvb3Qgb3IgYWRkIHRoZSB1c2VyIHRvIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5rdm1Vc2VycyIKICAgICAgICBmaQogICAgICBlbGlmIFsgIiQodW5hbWUgLW0pIiA9IHg4Nl82NCBdICYmICEgZ3JlcCAtRXF3ICd2bXh8c3ZtJyAvcHJvYy9jcHVpbmZvOyB0aGVuCiAgICAgICAgcHJvYmxlbSAibWlzc2luZyBLVk06IC9kZXYva3ZtIGRvZXMgbm90IGV4aXN0IGFuZCB0aGUgQ1BVIHNob3dzIG5vIHZteC9zdm0gZmxhZzsgdmlydHVhbGlzYXRpb24gaXMgb2ZmIGluIHRoZSBmaXJtd2FyZSwgb3IgdGhpcyBWTSBoYXMgbm8gbmVzdGVkIHZpcnR1YWxpc2F0aW9uIgogICAgICBlbHNlCiAgICAgICAgcHJvYmxlbSAibWlzc2luZyBLVk06IC9kZXYva3ZtIGRvZXMgbm90IGV4aXN0OyBsb2FkIGt2bS1pbnRlbCBvciBrdm0tYW1kICh2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY3B1VmVuZG9yKSIKICAgICAgZmkKCiAgICAgIGlmIFsgLWMgL2Rldi92aG9zdC12c29jayBdOyB0aGVuCiAgICAgICAgb2sgIi9kZXYvdmhvc3QtdnNvY2sgaXMgcHJlc2VudCIKICAgICAgZWxzZQogICAgICAgIHByb2JsZW0gIm1pc3NpbmcgL2Rldi92aG9zdC12c29jazogdGhlIHZob3N0X3Zzb2NrIG1vZHVsZSBpcyBub3QgbG9hZGVkIgogICAgICBmaQogICAgICBpZiBncmVwIC1xcyAnXnZtd192c29ja192bWNpX3RyYW5zcG9ydCAnIC9wcm9jL21vZHVsZXM7IHRoZW4KICAgICAgICBwcm9ibGVtICJ2bXdfdnNvY2tfdm1jaV90cmFuc3BvcnQgaXMgbG9hZGVkIChWTXdhcmUgZ3Vlc3QpOyBpdCBjb25mbGljdHMgd2l0aCB2aG9zdF92c29jayIKICAgICAgZmkKICAgICAgaWYgWyAtYyAvZGV2L3Zob3N0LW5ldCBdOyB0aGVuCiAgICAgICAgb2sgIi9kZXYvdmhvc3QtbmV0IGlzIHByZXNlbnQiCiAgICAgIGVsc2UKICAgICAgICBwcm9ibGVtICJtaXNzaW5nIC9kZXYvdmhvc3QtbmV0OiB0aGUgdmhvc3RfbmV0IG1vZHVsZSBpcyBub3QgbG9hZGVkIgogICAgICBmaQoKICAgICAgaWYgdmVyc2lvbj0kKCIkc2hpbSIgLS12ZXJzaW9uIDI+JjEpOyB0aGVuCiAgICAgICAgb2sgInNoaW0gcnVuczogJChwcmludGYgJyVzXG4nICIkdmVyc2lvbiIgfCBoZWFkIC1uIDEpIgogICAgICBlbHNlCiAgICAgICAgcHJvYmxlbSAidGhlIHNoaW0gJHNoaW0gZG9lcyBub3QgcnVuOiAkdmVyc2lvbiIKICAgICAgZmkKICAgICAgaWYgWyAtciAiJGNvbmZpZyIgXTsgdGhlbgogICAgICAgIG9rICJjb25maWd1cmF0aW9uICRjb25maWciCiAgICAgIGVsc2UKICAgICAgICBwcm9ibGVtICJjYW5ub3QgcmVhZCB0aGUgY29uZmlndXJhdGlvbiAkY29uZmlnIgogICAgICBmaQoKICAgICAgaWYgWyAtbiAiJGdvX3J1bnRpbWUiIF07IHRoZW4KICAgICAgICBpZiAiJGdvX3J1bnRpbWUiIC0tY29uZmlnICIkY29uZmlnIiBjaGVjayAtLW5vLW5ldHdvcmstY2hlY2tzOyB0aGVuCiAgICAgICAgICBvayAia2F0YS1ydW50aW1lIGNoZWNrIHBhc3NlZCIKICAgICAgICBlbHNlCiAgICAgICAgICBwcm9ibGVtICJrYXRhLXJ1bnRpbWUgY2hlY2sgZmFpbGVkIChzZWUgYWJvdmUpIgogICAgICAgIGZpCiAgICAgIGZpCgogICAgICBpZiBbICIkcHJvYmxlbXMiIC1lcSAwIF07IHRoZW4KICAgICAgICBlY2hvICJrYXRhLWhvc3QtY2hlY2s6IHRoaXMgaG9zdCBjYW4gcnVuIEthdGEgQ29udGFpbmVycyIKICAgICAgZWxzZQogICAgICAgIGVjaG8gImthdGEtaG9zdC1jaGVjazogJHByb2JsZW1zIHByb2JsZW0ocyk7IEthdGEgVk1zIHdpbGwgbm90IHN0YXJ0IGhlcmUiCiAgICAgICAgZXhpdCAxCiAgICAgIGZpCiAgICAnJzsKICB9Owppbgp7CiAgb3B0aW9ucy52aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMgPSB7CiAgICBlbmFibGUgPSBta0VuYWJsZU9wdGlvbiAnJwogICAgICBLYXRhIENvbnRhaW5lcnM6IE9DSSBjb250YWluZXJzIHRoYXQgZWFjaCBydW4gaW4gdGhlaXIgb3duIGxpZ2h0d2VpZ2h0CiAgICAgIHZpcnR1YWwgbWFjaGluZS4gVGhpcyBpbnN0YWxscyB0aGUgcnVudGltZSBhbmQgaXRzIGNvbmZpZ3VyYXRpb247IHVzZQogICAgICB7b3B0aW9ufWB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY29udGFpbmVyZC5lbmFibGVgIG9yCiAgICAgIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5kb2NrZXIuZW5hYmxlYCB0byBvZmZlciBpdCB0byBhCiAgICAgIGNvbnRhaW5lciBtYW5hZ2VyJyc7CgogICAgcGFja2FnZSA9IG1rUGFja2FnZU9wdGlvbiBwa2dzICJrYXRhLXJ1bnRpbWUiIHsgfTsKCiAgICBoeXBlcnZpc29yID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMuZW51bSAobGliLmF0dHJOYW1lcyBoeXBlcnZpc29ycyk7CiAgICAgIGRlZmF1bHQgPSAicWVtdSI7CiAgICAgIGV4YW1wbGUgPSAiY2xvdWQtaHlwZXJ2aXNvciI7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUaGUgdmlydHVhbCBtYWNoaW5lIG1vbml0b3IgdGhhdCBydW5zIGVhY2ggc2FuZGJveC4gV2l0aCBydW50aW1lLXJzCiAgICAgICAgKGthdGEtcnVudGltZSA0LngpIGBxZW11YCwgYGRyYWdvbmJhbGxgIChidWlsdCBpbnRvIHRoZSBzaGltKSBhbmQKICAgICAgICBgZmlyZWNyYWNrZXJgIGFyZSBhdmFpbGFibGUgb24geDg2XzY0LWxpbnV4IGFuZCBhYXJjaDY0LWxpbnV4LCBhbmQKICAgICAgICBgY2xvdWQtaHlwZXJ2aXNvcmAgb24geDg2XzY0LWxpbnV4IG9ubHkuIFRoZSBHbyBydW50aW1lIChrYXRhLXJ1bnRpbWUKICAgICAgICAzLngpIGluIG5peHBrZ3MgaXMgYnVpbHQgZm9yIGBxZW11YCBvbmx5LiBgZmlyZWNyYWNrZXJgIG5lZWRzIGEKICAgICAgICBibG9jay1kZXZpY2Ugc25hcHNob3R0ZXIgKGRldm1hcHBlcikgaW4gY29udGFpbmVyZCwgd2hpY2ggdGhpcyBtb2R1bGUKICAgICAgICBkb2VzIG5vdCBzZXQgdXAuCiAgICAgICcnOwogICAgfTsKCiAgICBtZW1vcnkgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5pbnRzLnBvc2l0aXZlOwogICAgICBkZWZhdWx0ID0gMjA0ODsKICAgICAgZXhhbXBsZSA9IDQwOTY7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBNZW1vcnkgb2YgZWFjaCBzYW5kYm94IFZNIGluIE1pQiAoS2F0YSdzIGBkZWZhdWx0X21lbW9yeWApLiBLYXRhCiAgICAgICAgcmVmdXNlcyBsZXNzIHRoYW4gNjQgTWlCICgxMjggTWlCIGZvciBmaXJlY3JhY2tlcikuIEEgdmFsdWUgc2V0IGluCiAgICAgICAge29wdGlvbn1gdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLnNldHRpbmdzYCB0YWtlcyBwcmVjZWRlbmNlLgogICAgICAnJzsKICAgIH07CgogICAgdmNwdXMgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5pbnRzLnBvc2l0aXZlOwogICAgICBkZWZhdWx0ID0gMTsKICAgICAgZGVzY3JpcHRpb24gPSAnJwogICAgICAgIFZpcnR1YWwgQ1BVcyBlYWNoIHNhbmRib3ggVk0gc3RhcnRzIHdpdGggKEthdGEncyBgZGVmYXVsdF92Y3B1c2ApLgogICAgICAgIEEgdmFsdWUgc2V0IGluIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5zZXR0aW5nc2AKICAgICAgICB0YWtlcyBwcmVjZWRlbmNlLgogICAgICAnJzsKICAgIH07CgogICAgZGVidWcgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5ib29sOwogICAgICBkZWZhdWx0ID0gZmFsc2U7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUdXJuIG9uIGRlYnVnIG91dHB1dCBvZiB0aGUgaHlwZXJ2aXNvciwgdGhlIGFnZW50IGFuZCB0aGUgcnVudGltZQogICAgICAgICh0aGVpciBgZW5hYmxlX2RlYnVnYCBrZXlzKS4gTG9ncyBnbyB0byB0aGUgam91cm5hbCBvZiB0aGUgY29udGFpbmVyCiAgICAgICAgbWFuYWdlci4KICAgICAgJyc7CiAgICB9OwoKICAgIHNldHRpbmdzID0gbWtPcHRpb24gewogICAgICB0eXBlID0gc2V0dGluZ3NGb3JtYXQudHlwZTsKICAgICAgZGVmYXVsdCA9IHsgfTsKICAgICAgZXhhbXBsZSA9IGxpdGVyYWxFeHByZXNzaW9uICcnCiAgICAgICAgewogICAgICAgICAgaHlwZXJ2aXNvci5xZW11LmRlZmF1bHRfbWF4dmNwdXMgPSA4OwogICAgICAgICAgcnVudGltZS5pbnRlcm5ldHdvcmtpbmdfbW9kZWwgPSAidGNmaWx0ZXIiOwogICAgICAgIH0KICAgICAgJyc7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBLYXRhIGNvbmZpZ3VyYXRpb24sIG1lcmdlZCBvdmVyIHRoZSBjb25maWd1cmF0aW9uIHRoZSBwYWNrYWdlIHNoaXBzCiAgICAgICAgZm9yIHRoZSBjaG9zZW4gaHlwZXJ2aXNvci4gSXQgaXMgd3JpdHRlbiBhcyBhIGBjb25maWcuZGAgZHJvcC1pbiwgc28KICAgICAgICBvbmx5IHRoZSBrZXlzIGdpdmVuIGhlcmUgY2hhbmdlLiBTZWUgdGhlIHNoaXBwZWQgZmlsZQogICAgICAgIChgc2hhcmUvZGVmYXVsdHMva2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvYCBpbiB0aGUgcGFja2FnZSkgZm9yIHRoZQogICAgICAgIGF2YWlsYWJsZSBrZXlzLiBUaGUgdHlwZWQgb3B0aW9ucyBhYm92ZSBvbmx5IHNldCBkZWZhdWx0cyBoZXJlOyBhCiAgICAgICAgdmFsdWUgc2V0IGluIHRoaXMgb3B0aW9uIHdpbnMuCiAgICAgICcnOwogICAgfTsKCiAgICBjb25maWdQYXRoID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMuc3RyOwogICAgICByZWFkT25seSA9IHRydWU7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBUaGUgY29uZmlndXJhdGlvbiBmaWxlIGhhbmRlZCB0byB0aGUgc2hpbSAoYENvbmZpZ1BhdGhgKTogYSBzdG9yZQogICAgICAgIHBhdGggd2hvc2UgZGlyZWN0b3J5IGFsc28gaG9sZHMgdGhlIGBjb25maWcuZGAgZHJvcC1pbi4gQWxzbyBsaW5rZWQKICAgICAgICBhdCBgL2V0Yy9rYXRhLWNvbnRhaW5lcnMvcnVudGltZS1ycy9jb25maWd1cmF0aW9uLnRvbWxgIChHbyBydW50aW1lOgogICAgICAgIGAvZXRjL2thdGEtY29udGFpbmVycy9jb25maWd1cmF0aW9uLnRvbWxgKSBmb3IgdG9vbHMgdGhhdCBkbyBub3QgcGFzcwogICAgICAgIGEgcGF0aC4KICAgICAgJyc7CiAgICB9OwoKICAgIGt2bVVzZXJzID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMubGlzdE9mIHR5cGVzLnN0cjsKICAgICAgZGVmYXVsdCA9IFsgXTsKICAgICAgZXhhbXBsZSA9IFsgImFsaWNlIiBdOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgVXNlcnMgYWRkZWQgdG8gdGhlIGBrdm1gIGdyb3VwLCBzbyB0aGF0IHRoZXkgY2FuIG9wZW4gL2Rldi9rdm0sIGZvcgogICAgICAgIGV4YW1wbGUgdG8gcnVuIHtjb21tYW5kfWBrYXRhLWhvc3QtY2hlY2tgIG9yIGEgcm9vdGxlc3MgY29udGFpbmVyCiAgICAgICAgbWFuYWdlci4gUm9vdCBuZWVkcyBubyBlbnRyeS4KICAgICAgJyc7CiAgICB9OwoKICAgIGNwdVZlbmRvciA9IG1rT3B0aW9uIHsKICAgICAgdHlwZSA9IHR5cGVzLm51bGxPciAodHlwZXMuZW51bSBbICJpbnRlbCIgImFtZCIgXSk7CiAgICAgIGRlZmF1bHQgPQogICAgICAgIGlmIGNvbmZpZy5oYXJkd2FyZS5jcHUuaW50ZWwudXBkYXRlTWljcm9jb2RlIHRoZW4gImludGVsIgogICAgICAgIGVsc2UgaWYgY29uZmlnLmhhcmR3YXJlLmNwdS5hbWQudXBkYXRlTWljcm9jb2RlIHRoZW4gImFtZCIKICAgICAgICBlbHNlIG51bGw7CiAgICAgIGRlZmF1bHRUZXh0ID0gbGl0ZXJhbEV4cHJlc3Npb24gJycKICAgICAgICBpZiBjb25maWcuaGFyZHdhcmUuY3B1LmludGVsLnVwZGF0ZU1pY3JvY29kZSB0aGVuICJpbnRlbCIKICAgICAgICBlbHNlIGlmIGNvbmZpZy5oYXJkd2FyZS5jcHUuYW1kLnVwZGF0ZU1pY3JvY29kZSB0aGVuICJhbWQiCiAgICAgICAgZWxzZSBudWxsCiAgICAgICcnOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgT24geDg2XzY0LCB3aG9zZSBLVk0gbW9kdWxlIHRvIGxvYWQ6IGBrdm0taW50ZWxgIG9yIGBrdm0tYW1kYC4KICAgICAgICBgbnVsbGAgbGVhdmVzIGl0IHRvIHRoZSBoYXJkd2FyZSBjb25maWd1cmF0aW9uLCB3aGljaAogICAgICAgIHtjb21tYW5kfWBuaXhvcy1nZW5lcmF0ZS1jb25maWdgIGFscmVhZHkgd3JpdGVzIHdpdGggdGhlIHJpZ2h0IG9uZS4KICAgICAgICBNdXN0IGJlIGBudWxsYCBvbiBhYXJjaDY0LCB3aGVyZSBLVk0gaXMgYnVpbHQgaW50byB0aGUga2VybmVsLgogICAgICAnJzsKICAgIH07CgogICAgY29udGFpbmVyZCA9IHsKICAgICAgZW5hYmxlID0gbWtFbmFibGVPcHRpb24gJycKICAgICAgICB0aGUgcnVudGltZSBoYW5kbGVycyBga2F0YWAgYW5kIGBrYXRhLTxoeXBlcnZpc29yPmAgaW4gY29udGFpbmVyZCdzCiAgICAgICAgQ1JJIHBsdWdpbiAoZm9yIEt1YmVybmV0ZXMgUnVudGltZUNsYXNzZXMgYW5kIHtjb21tYW5kfWBjcmljdGxgKS4KICAgICAgICBUaGUgZGVmYXVsdCBydW50aW1lIHN0YXlzIGFzIGl0IGlzJyc7CgogICAgICBjb25maWdWZXJzaW9uID0gbWtPcHRpb24gewogICAgICAgIHR5cGUgPSB0eXBlcy5lbnVtIHN1cHBvcnRlZFZlcnNpb25zOwogICAgICAgIGRlZmF1bHQgPSBpZiBjb250YWluZXJkVmVyc2lvblN1cHBvcnRlZCB0aGVuIGNvbnRhaW5lcmRWZXJzaW9uIGVsc2UgMjsKICAgICAgICBkZWZhdWx0VGV4dCA9IGxpdGVyYWxFeHByZXNzaW9uICcnCiAgICAgICAgICBpZiBsaWIuZWxlbSAoY29uZmlnLnZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3MudmVyc2lvbiBvciBudWxsKSBbIDIgMyA0IF0KICAgICAgICAgIHRoZW4gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3MudmVyc2lvbgogICAgICAgICAgZWxzZSAyCiAgICAgICAgJyc7CiAgICAgICAgZXhhbXBsZSA9IDM7CiAgICAgICAgZGVzY3JpcHRpb24gPSAnJwogICAgICAgICAgVGhlIGB2ZXJzaW9uYCBvZiB0aGUgY29udGFpbmVyZCBjb25maWd1cmF0aW9uIHRoYXQKICAgICAgICAgIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3NgIHByb2R1Y2VzOyBpdCBkZWNpZGVzCiAgICAgICAgICB0aGUgQ1JJIHBsdWdpbiBpZCB0aGUgaGFuZGxlcnMgZ28gdW5kZXIgKDI6CiAgICAgICAgICBgaW8uY29udGFpbmVyZC5ncnBjLnYxLmNyaWAsIDMgYW5kIDQ6CiAgICAgICAgICBgaW8uY29udGFpbmVyZC5jcmkudjEucnVudGltZWApLiBJdCBmb2xsb3dzCiAgICAgICAgICBgdmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy52ZXJzaW9uYCAoTml4T1MnIGNvbnRhaW5lcmQKICAgICAgICAgIG1vZHVsZSB3cml0ZXMgMiksIHNvIHRoZXJlIGlzIG5vIG5lZWQgdG8gc2V0IGl0OiBjaGFuZ2UKICAgICAgICAgIGNvbnRhaW5lcmQncyBvd24gc2V0dGluZyBpbnN0ZWFkLiBBbiBhc3NlcnRpb24gY2hlY2tzIHRoYXQgdGhlIHR3bwogICAgICAgICAgYWdyZWUuCiAgICAgICAgJyc7CiAgICAgIH07CiAgICB9OwoKICAgIGRvY2tlci5lbmFibGUgPSBta0VuYWJsZU9wdGlvbiAnJwogICAgICB0aGUgYGthdGFgIHJ1bnRpbWUgaW4gRG9ja2VyJ3MgZGFlbW9uLmpzb24gKGBkb2NrZXIgcnVuIC0tcnVudGltZSBrYXRhYCkuCiAgICAgIFRoZSBkZWZhdWx0IHJ1bnRpbWUgc3RheXMgYXMgaXQgaXMnJzsKICB9OwoKICBjb25maWcgPSBta0lmIGNmZy5lbmFibGUgKG1rTWVyZ2UgWwogICAgewogICAgICBhc3NlcnRpb25zID0gWwogICAgICAgIHsKICAgICAgICAgIGFzc2VydGlvbiA9IGxpYi5lbGVtIHN5c3RlbSBzdXBwb3J0ZWRTeXN0ZW1zOwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczogJHtzeXN0ZW19IGlzIG5vdCBzdXBwb3J0ZWQ7IEthdGEKICAgICAgICAgICAgQ29udGFpbmVycyBmcm9tIG5peHBrZ3MgcnVucyBvbiAke2xpYi5jb25jYXRTdHJpbmdzU2VwICIgYW5kICIgc3VwcG9ydGVkU3lzdGVtc30uCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gc2hpcHBlZCBjZmcuaHlwZXJ2aXNvcjsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuaHlwZXJ2aXNvciA9ICIke2NmZy5oeXBlcnZpc29yfSIsIGJ1dAogICAgICAgICAgICAke2NmZy5wYWNrYWdlLm5hbWV9ICgke3J1bnRpbWVOYW1lfSkgb24gJHtzeXN0ZW19IHNoaXBzIG5vCiAgICAgICAgICAgIGNvbmZpZ3VyYXRpb24gZm9yIGl0LiBDaG9vc2Ugb25lIG9mOiAke2xpYi5jb25jYXRTdHJpbmdzU2VwICIsICIgc2hpcHBlZE5hbWVzfS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgICB7CiAgICAgICAgICBhc3NlcnRpb24gPSBlZmZlY3RpdmVNZW1vcnkgPj0gaHYubWluTWVtb3J5OwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczogZWFjaCBzYW5kYm94IFZNIHdvdWxkIGdldAogICAgICAgICAgICAke3RvU3RyaW5nIGVmZmVjdGl2ZU1lbW9yeX0gTWlCLCBidXQgS2F0YSdzICR7Y2ZnLmh5cGVydmlzb3J9CiAgICAgICAgICAgIG5lZWRzIGF0IGxlYXN0ICR7dG9TdHJpbmcgaHYubWluTWVtb3J5fSBNaUIuIFJhaXNlCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5tZW1vcnkuCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gY2ZnLmNwdVZlbmRvciA9PSBudWxsIHx8IGxpYi5oYXNQcmVmaXggIng4Nl82NC0iIHN5c3RlbTsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY3B1VmVuZG9yID0gIiR7dG9TdHJpbmcgY2ZnLmNwdVZlbmRvcn0iIG9ubHkKICAgICAgICAgICAgYXBwbGllcyB0byB4ODZfNjQ7IHNldCBpdCB0byBudWxsIG9uICR7c3lzdGVtfS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgICB7CiAgICAgICAgICBhc3NlcnRpb24gPSBjZmcuY29udGFpbmVyZC5lbmFibGUgLT4gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuZW5hYmxlOwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5jb250YWluZXJkLmVuYWJsZSBhZGRzIHJ1bnRpbWUKICAgICAgICAgICAgaGFuZGxlcnMgdG8gY29udGFpbmVyZCwgYnV0IHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuZW5hYmxlIGlzCiAgICAgICAgICAgIGZhbHNlLiBFbmFibGUgY29udGFpbmVyZCwgb3IgdHVybiB0aGUgS2F0YSBoYW5kbGVycyBvZmYuCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gY2ZnLmNvbnRhaW5lcmQuZW5hYmxlIC0+IGNvbnRhaW5lcmRWZXJzaW9uU3VwcG9ydGVkOwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3MudmVyc2lvbiBpcwogICAgICAgICAgICAke2lmIGNvbnRhaW5lcmRWZXJzaW9uID09IG51bGwgdGhlbiAidW5zZXQgKGNvbnRhaW5lcmQgdGhlbiByZWFkcyB0aGUgY29uZmlndXJhdGlvbiBhcyB2ZXJzaW9uIDEpIgogICAgICAgICAgICAgIGVsc2UgYnVpbHRpbnMudG9KU09OIGNvbnRhaW5lcmRWZXJzaW9ufSwgYnV0IHRoZSBLYXRhIGhhbmRsZXJzIG5lZWQgYSBjb250YWluZXJkCiAgICAgICAgICAgIGNvbmZpZ3VyYXRpb24gb2YgdmVyc2lvbiAke3ZlcnNpb25MaXN0fS4KICAgICAgICAgICAgU2V0IHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3MudmVyc2lvbiB0byBvbmUgb2YgdGhlbS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgICB7CiAgICAgICAgICBhc3NlcnRpb24gPSBjZmcuY29udGFpbmVyZC5lbmFibGUgJiYgY29udGFpbmVyZFZlcnNpb25TdXBwb3J0ZWQgLT4KICAgICAgICAgICAgY29udGFpbmVyZFZlcnNpb24gPT0gY2ZnLmNvbnRhaW5lcmQuY29uZmlnVmVyc2lvbjsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY29udGFpbmVyZC5jb25maWdWZXJzaW9uIGlzCiAgICAgICAgICAgICR7dG9TdHJpbmcgY2ZnLmNvbnRhaW5lcmQuY29uZmlnVmVyc2lvbn0sIGJ1dCB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLnNldHRpbmdzLnZlcnNpb24gaXMKICAgICAgICAgICAgJHtidWlsdGlucy50b0pTT04gY29udGFpbmVyZFZlcnNpb259OiB0aGUgS2F0YSBoYW5kbGVycyB3b3VsZCBnbyB1bmRlciBDUkkgcGx1Z2luCiAgICAgICAgICAgICIke2NyaVBsdWdpbn0iLCBidXQgYSB2ZXJzaW9uICR7YnVpbHRpbnMudG9KU09OIGNvbnRhaW5lcmRWZXJzaW9ufSBjb25maWd1cmF0aW9uIGtlZXBzIGl0cwogICAgICAgICAgICBydW50aW1lcyB1bmRlciAiJHtjcmlQbHVnaW5JZHMuJHt0b1N0cmluZyBjb250YWluZXJkVmVyc2lvbn0gb3IgIj8ifSIuIFJlbW92ZSB0aGUKICAgICAgICAgICAgY29uZmlnVmVyc2lvbiBzZXR0aW5nOyBpdCBmb2xsb3dzIGNvbnRhaW5lcmQncyB2ZXJzaW9uIGJ5IGRlZmF1bHQuCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gY2ZnLmRvY2tlci5lbmFibGUgLT4gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmRvY2tlci5lbmFibGU7CiAgICAgICAgICBtZXNzYWdlID0gJycKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmRvY2tlci5lbmFibGUgYWRkcyB0aGUgYGthdGFgCiAgICAgICAgICAgIHJ1bnRpbWUgdG8gRG9ja2VyLCBidXQgdmlydHVhbGlzYXRpb24uZG9ja2VyLmVuYWJsZSBpcyBmYWxzZS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgXTsKCiAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5jb25maWdQYXRoID0gY29uZmlnUGF0aDsKICAgICAgc3lzdGVtLmJ1aWxkLmthdGFDb250YWluZXJzQ29uZmlnID0gY29uZmlnRGlyOwoKICAgICAgIyBEZWZhdWx0cyBvbmx5OiBhbnl0aGluZyB0aGUgdXNlciB3cml0ZXMgaW50byBgc2V0dGluZ3NgIHdpbnMuCiAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5zZXR0aW5ncyA9IG1rTWVyZ2UgWwogICAgICAgIHsKICAgICAgICAgIGh5cGVydmlzb3IuJHtodi5zZWN0aW9ufSA9IHsKICAgICAgICAgICAgZGVmYXVsdF9tZW1vcnkgPSBta0RlZmF1bHQgY2ZnLm1lbW9yeTsKICAgICAgICAgICAgZGVmYXVsdF92Y3B1cyA9IG1rRGVmYXVsdCBjZmcudmNwdXM7CiAgICAgICAgICAgIGVuYWJsZV9kZWJ1ZyA9IG1rRGVmYXVsdCBjZmcuZGVidWc7CiAgICAgICAgICB9OwogICAgICAgICAgYWdlbnQua2F0YS5lbmFibGVfZGVidWcgPSBta0RlZmF1bHQgY2ZnLmRlYnVnOwogICAgICAgICAgcnVudGltZS5lbmFibGVfZGVidWcgPSBta0RlZmF1bHQgY2ZnLmRlYnVnOwogICAgICAgIH0KICAgICAgICAobWtJZiAoaXNSdW50aW1lUnMgJiYgY2ZnLmh5cGVydmlzb3IgPT0gImNsb3VkLWh5cGVydmlzb3IiKSB7CiAgICAgICAgICBoeXBlcnZpc29yLmNsaCA9IHsKICAgICAgICAgICAgcGF0aCA9IG1rRGVmYXVsdCBjbGhQYXRoOwogICAgICAgICAgICB2YWxpZF9oeXBlcnZpc29yX3BhdGhzID0gbWtEZWZhdWx0IFsgY2xoUGF0aCBdOwogICAgICAgICAgfTsKICAgICAgICB9KQogICAgICAgIChta0lmIChpc1J1bnRpbWVScyAmJiBjZmcuaHlwZXJ2aXNvciA9PSAiZmlyZWNyYWNrZXIiKSB7CiAgICAgICAgICBoeXBlcnZpc29yLmZpcmVjcmFja2VyID0gewogICAgICAgICAgICBwYXRoID0gbWtEZWZhdWx0IGZjUGF0aDsKICAgICAgICAgICAgdmFsaWRfaHlwZXJ2aXNvcl9wYXRocyA9IG1rRGVmYXVsdCBbIGZjUGF0aCBdOwogICAgICAgICAgICBqYWlsZXJfcGF0aCA9IG1rRGVmYXVsdCBqYWlsZXJQYXRoOwogICAgICAgICAgICB2YWxpZF9qYWlsZXJfcGF0aHMgPSBta0RlZmF1bHQgWyBqYWlsZXJQYXRoIF07CiAgICAgICAgICB9OwogICAgICAgIH0pCiAgICAgIF07CgogICAgICBlbnZpcm9ubWVudC5zeXN0ZW1QYWNrYWdlcyA9IFsgY2ZnLnBhY2thZ2UgY2hlY2tUb29sIF07CiAgICAgIGVudmlyb25tZW50LmV0Yy4ke2V0Y0NvbmZpZ30uc291cmNlID0gY29uZmlnUGF0aDsKCiAgICAgIGJvb3Qua2VybmVsTW9kdWxlcyA9IFsgInZob3N0X3Zzb2NrIiAidmhvc3RfbmV0IiBdCiAgICAgICAgKysgb3B0aW9uYWwgKGNmZy5jcHVWZW5kb3IgPT0gImludGVsIikgImt2bS1pbnRlbCIKICAgICAgICArKyBvcHRpb25hbCAoY2ZnLmNwdVZlbmRvciA9PSAiYW1kIikgImt2bS1hbWQiOwoKICAgICAgdXNlcnMuZ3JvdXBzLmt2bS5tZW1iZXJzID0gY2ZnLmt2bVVzZXJzOwogICAgfQoKICAgIChta0lmIGNmZy5jb250YWluZXJkLmVuYWJsZSB7CiAgICAgICMgT25lIGVudHJ5IHBlciBDUkkgcGx1Z2luIGlkLCBlYWNoIGJlaGluZCBpdHMgb3duIGNvbmRpdGlvbiwgc28gdGhhdAogICAgICAjIHRoZSBhdHRyaWJ1dGUgbmFtZXMgZG8gbm90IGRlcGVuZCBvbiBjb25maWdWZXJzaW9uOiBpdHMgZGVmYXVsdAogICAgICAjIHJlYWRzIGNvbnRhaW5lcmQncyBzZXR0aW5ncy52ZXJzaW9uLCBhbmQgYSBuYW1lIGNvbXB1dGVkIGZyb20gaXQKICAgICAgIyB3b3VsZCBtYWtlIG1lcmdpbmcgdGhvc2Ugc2V0dGluZ3MgZGVwZW5kIG9uIGl0c2VsZiAoaW5maW5pdGUKICAgICAgIyByZWN1cnNpb24pLgogICAgICB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLnNldHRpbmdzLnBsdWdpbnMgPSBsaWIuZ2VuQXR0cnMgKGxpYi51bmlxdWUgKGxpYi5hdHRyVmFsdWVzIGNyaVBsdWdpbklkcykpCiAgICAgICAgKGlkOiBta0lmIChpZCA9PSBjcmlQbHVnaW4pIHsKICAgICAgICAgIGNvbnRhaW5lcmQucnVudGltZXMgPSBsaWIuZ2VuQXR0cnMgaGFuZGxlck5hbWVzIChfOiBjb250YWluZXJkUnVudGltZSk7CiAgICAgICAgfSk7CiAgICAgICMgU28gdGhhdCBgY3RyIHJ1biAtLXJ1bnRpbWUgaW8uY29udGFpbmVyZC5rYXRhLnYyYCBmaW5kcyB0aGUgc2hpbSB0b28uCiAgICAgIHN5c3RlbWQuc2VydmljZXMuY29udGFpbmVyZC5wYXRoID0gWyBjZmcucGFja2FnZSBdOwogICAgfSkKCiAgICAobWtJZiBjZmcuZG9ja2VyLmVuYWJsZSB7CiAgICAgIHZpcnR1YWxpc2F0aW9uLmRvY2tlci5kYWVtb24uc2V0dGluZ3MucnVudGltZXMua2F0YSA9IHsKICAgICAgICBydW50aW1lVHlwZSA9IHNoaW07CiAgICAgICAgb3B0aW9ucy5Db25maWdQYXRoID0gY29uZmlnUGF0aDsKICAgICAgfTsKICAgIH0pCgogICAgKG1rSWYKICAgICAgKGNmZy5kb2NrZXIuZW5hYmxlICYmICFpc1J1bnRpbWVScwogICAgICAgICYmIGxpYi52ZXJzaW9uT2xkZXIgKGxpYi5nZXRWZXJzaW9uIGNmZy5wYWNrYWdlKSAiMy4zMiIKICAgICAgICAmJiBsaWIudmVyc2lvbkF0TGVhc3QgKGxpYi5nZXRWZXJzaW9uIGNvbmZpZy52aXJ0dWFsaXNhdGlvbi5kb2NrZXIucGFja2FnZSkgIjI5IikKICAgICAgewogICAgICAgIHdhcm5pbmdzID0gWwogICAgICAgICAgJycKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzOiBEb2NrZXIgJHtsaWIuZ2V0VmVyc2lvbiBjb25maWcudmlydHVhbGlzYXRpb24uZG9ja2VyLnBhY2thZ2V9CiAgICAgICAgICAgIG5lZWRzIHRoZSBHbyBydW50aW1lIG9mIEthdGEgMy4zMiBvciBsYXRlciwgYnV0ICR7Y2ZnLnBhY2thZ2UubmFtZX0gaXMgb2xkZXI7CiAgICAgICAgICAgIGBkb2NrZXIgcnVuIC0tcnVudGltZSBrYXRhYCB3aWxsIGZhaWwuCiAgICAgICAgICAnJwogICAgICAgIF07CiAgICAgIH0pCiAgXSk7Cn0K && kf_put '/etc/nixos/katafleet.nix' 644 IyBXcml0dGVuIGJ5IGthdGFmbGVldDsgdGhlIG5leHQgYGthdGFmbGVldCBwcm92aXNpb25gIHJlcGxhY2VzIGl0LCBzbyBjaGFuZ2UKIyB0aGUgaW52ZW50b3J5IHJhdGhlciB0aGFuIHRoaXMgZmlsZS4gL2V0Yy9uaXhvcy9jb25maWd1cmF0aW9uLm5peCBtdXN0CiMgaW1wb3J0IGl0OgojCiMgICBpbXBvcnRzID0gWyAuL2thdGFmbGVldC5uaXggXTsKIwojIFRoZSBvcHRpb25zIGJlbG93IGFyZSBkZWNsYXJlZCBieSAuL2thdGFmbGVldC1tb2R1bGUubml4LCB0aGUgTml4T1MgbW9kdWxlCiMgZnJvbSBrYXRhZmxlZXQncyBmbGFrZSAobml4L21vZHVsZS5uaXgpLCB3aGljaCBrYXRhZmxlZXQgd3JpdGVzIG5leHQgdG8gdGhpcwojIGZpbGUsIHNvIGEgaG9zdCBuZWVkcyBuZWl0aGVyIHRoZSBmbGFrZSBub3IgbmV0d29yayBhY2Nlc3MgdG8gZXZhbHVhdGUgaXQuCnsgbGliLCAuLi4gfToKewogIGltcG9ydHMgPSBbIC4va2F0YWZsZWV0LW1vZHVsZS5uaXggXTsKCiAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzID0gewogICAgZW5hYmxlID0gdHJ1ZTsKICAgIGh5cGVydmlzb3IgPSAicWVtdSI7CiAgICBtZW1vcnkgPSAyMDQ4OwogICAgdmNwdXMgPSAxOwogICAgZGVidWcgPSBmYWxzZTsKICAgIGNvbnRhaW5lcmQuZW5hYmxlID0gdHJ1ZTsKICAgIGRvY2tlci5lbmFibGUgPSB0cnVlOwogICAga3ZtVXNlcnMgPSBbICJhbGljZSIgXTsKICB9OwoKICB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLmVuYWJsZSA9IGxpYi5ta0RlZmF1bHQgdHJ1ZTsKCiAgdmlydHVhbGlzYXRpb24uZG9ja2VyLmVuYWJsZSA9IGxpYi5ta0RlZmF1bHQgdHJ1ZTsKfQo=; }; then kf_revert '/etc/nixos/katafleet-module.nix' '/etc/nixos/katafleet.nix'; kf_report 1 failed 'cannot write the NixOS configuration; nothing changed'; exit 1; fi
if ! nixos-rebuild test >"$KF_RUN/rebuild.log" 2>&1; then kf_revert '/etc/nixos/katafleet-module.nix' '/etc/nixos/katafleet.nix'; /nix/var/nix/profiles/system/bin/switch-to-configuration test >/dev/null 2>&1; kf_report 1 failed "nixos-rebuild test failed, so the previous files and system are back: $(tail -n 15 "$KF_RUN/rebuild.log")"; exit 1; fi
kf_report 1 changed 'activated with nixos-rebuild test (switch follows verification)'
kf_record 1 '/var/lib/katafleet/manifest.json' ewogICJmaWxlcyI6IHsKICAgICIvZXRjL25peG9zL2thdGFmbGVldC1tb2R1bGUubml4IjogewogICAgICAic2hhMjU2IjogIjEzZDIxM2JlNTM5MWM1NTgxYzliMmZiYzM1MjM0NDk5NjhhZDNhMzI4MWVhYWQ3MmVkZGE2YTUxZGIwNDc5ODciLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0sCiAgICAiL2V0Yy9uaXhvcy9rYXRhZmxlZXQubml4IjogewogICAgICAic2hhMjU2IjogIjA3MWVhMjViMWRhZmZjOTQ1NTVkODdhNWEzNTY2N2JiZGFlNzk0NjE0Y2M3M2YxZDEyNWFkMjVkNmZjNWQyNmMiLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0KICB9LAogICJjb250YWluZXJkX2hhbmRsZXJzIjogWwogICAgImthdGEiCiAgXSwKICAiZG9ja2VyX3J1bnRpbWVzIjogW10KfQo=

kf_record 1 '/var/lib/katafleet/manifest.json' ewogICJmaWxlcyI6IHsKICAgICIvZXRjL25peG9zL2thdGFmbGVldC1tb2R1bGUubml4IjogewogICAgICAic2hhMjU2IjogIjEzZDIxM2JlNTM5MWM1NTgxYzliMmZiYzM1MjM0NDk5NjhhZDNhMzI4MWVhYWQ3MmVkZGE2YTUxZGIwNDc5ODciLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0sCiAgICAiL2V0Yy9uaXhvcy9rYXRhZmxlZXQubml4IjogewogICAgICAic2hhMjU2IjogIjA3MWVhMjViMWRhZmZjOTQ1NTVkODdhNWEzNTY2N2JiZGFlNzk0NjE0Y2M3M2YxZDEyNWFkMjVkNmZjNWQyNmMiLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0KICB9LAogICJjb250YWluZXJkX2hhbmRsZXJzIjogWwogICAgImthdGEiCiAgXSwKICAiZG9ja2VyX3J1bnRpbWVzIjogW10KfQo=
kf_put /var/lib/katafleet/last-provision 644 "$(printf 'time=%s\nkatafleet=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '0.0.0-golden' | base64 | tr -d '\n')"
exit 0
