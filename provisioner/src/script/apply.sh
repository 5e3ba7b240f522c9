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
