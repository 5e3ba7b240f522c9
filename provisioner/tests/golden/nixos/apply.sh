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
    kf_id=$1 kf_size=$2 kf_sha=$3 kf_decomp=$4 kf_shim=$5 kf_marker=$6 kf_foreign=$7
    mkdir -p /opt || { kf_report "$kf_id" failed "cannot create /opt"; return 1; }
    # Staging left by a run that was killed; no other run is here (the lock).
    rm -rf /opt/.katafleet-stage.*
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

# What katafleet owns, recorded after every step that changed something:
# atomic (temp file + rename) and synced, so no interruption loses it. A
# record that cannot be written fails the run, loudly.
kf_record() {
    if ! kf_out=$(kf_put "$2" 644 "$3" 2>&1) || ! { sync "$2" 2>/dev/null || sync; }; then
        kf_report "$1" failed "step $1 is done, but what katafleet owns could not be recorded in $2: $kf_out"
        exit 1
    fi
}

kf_begin 1
rm -rf /var/lib/katafleet/nixos-previous && mkdir -p /var/lib/katafleet/nixos-previous
kf_keep '/etc/nixos/katafleet-module.nix'; if [ -e '/etc/nixos/katafleet-module.nix' ]; then mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix')" && cp -p '/etc/nixos/katafleet-module.nix' /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix'; else mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix')" && : >/var/lib/katafleet/nixos-previous'/etc/nixos/katafleet-module.nix'.absent; fi
kf_keep '/etc/nixos/katafleet.nix'; if [ -e '/etc/nixos/katafleet.nix' ]; then mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix')" && cp -p '/etc/nixos/katafleet.nix' /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix'; else mkdir -p "$(dirname /var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix')" && : >/var/lib/katafleet/nixos-previous'/etc/nixos/katafleet.nix'.absent; fi
if ! { kf_put '/etc/nixos/katafleet-module.nix' 644 IyBOaXhPUyBtb2R1bGU6IHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycwojCiMgV2lyZXMgbml4cGtncycgYGthdGEtcnVudGltZWAgaW50byBjb250YWluZXJkIGFuZC9vciBEb2NrZXIuIEV2ZXJ5dGhpbmcgaXQKIyBoYW5kcyB0byBhIGNvbnRhaW5lciBtYW5hZ2VyIGlzIGEgc3RvcmUgcGF0aDogdGhlIHNoaW0sIGFuZCBhIGNvbmZpZ3VyYXRpb24KIyBkaXJlY3RvcnkgYnVpbHQgZnJvbSB0aGUgcGFja2FnZSdzIHNoaXBwZWQgY29uZmlndXJhdGlvbiBwbHVzIGEgYGNvbmZpZy5kYAojIGRyb3AtaW4gcmVuZGVyZWQgZnJvbSBgc2V0dGluZ3NgLiBOb3RoaW5nIGxhbmRzIGluIC9vcHQsIGFuZCB0aGUgZGVmYXVsdAojIHJ1bnRpbWUgb2YgY29udGFpbmVyZCBvciBEb2NrZXIgaXMgbmV2ZXIgdG91Y2hlZC4KIwojIEZhY3RzIHRoaXMgbW9kdWxlIHJlbGllcyBvbiAoY2hlY2tlZCBhZ2FpbnN0IHRoZSBzb3VyY2VzIG5hbWVkIGhlcmUpOgojIC0gbml4cGtncycga2F0YS1ydW50aW1lID49IDQuMCBpcyBydW50aW1lLXJzLCBidWlsdCB3aXRoCiMgICBgQklORElSPSRvdXQvYmluYDogdGhlIHNoaW0gaXMgYCRvdXQvYmluL2NvbnRhaW5lcmQtc2hpbS1rYXRhLXYyYCBhbmQgdGhlCiMgICBjb25maWd1cmF0aW9ucyBhcmUgYCRvdXQvc2hhcmUvZGVmYXVsdHMva2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvKi50b21sYAojICAgKHBrZ3MvYnktbmFtZS9rYS9rYXRhLXJ1bnRpbWUvcGFja2FnZS5uaXg7IHNyYy9ydW50aW1lLXJzL01ha2VmaWxlKS4KIyAgIEJlZm9yZSA0LjAgaXQgaXMgdGhlIEdvIHJ1bnRpbWUgYnVpbHQgd2l0aCBIWVBFUlZJU09SUz1xZW11OiBzYW1lIHNoaW0KIyAgIHBhdGgsIG9uZSBjb25maWd1cmF0aW9uIGF0IGAkb3V0L3NoYXJlL2RlZmF1bHRzL2thdGEtY29udGFpbmVycy8KIyAgIGNvbmZpZ3VyYXRpb24tcWVtdS50b21sYCwgcGx1cyB0aGUgYGthdGEtcnVudGltZWAgYmluYXJ5LgojIC0gcnVudGltZS1ycyBidWlsZHMgY29uZmlndXJhdGlvbnMgZm9yIHFlbXUsIGRyYWdvbmJhbGwgKGJ1aWx0IGludG8gdGhlCiMgICBzaGltKSBhbmQgZmlyZWNyYWNrZXIgb24geDg2XzY0IGFuZCBhYXJjaDY0LCBhbmQgZm9yIGNsb3VkLWh5cGVydmlzb3Igb24KIyAgIHg4Nl82NCBvbmx5IChzcmMvcnVudGltZS1ycy9hcmNoLyotb3B0aW9ucy5taykuIFRoZSBuaXhwa2dzIHBhY2thZ2UgcG9pbnRzCiMgICBxZW11IGF0IGl0cyBvd24gcWVtdV9rdm07IGNsb3VkLWh5cGVydmlzb3IgYW5kIGZpcmVjcmFja2VyIGNvbmZpZ3VyYXRpb25zCiMgICBzdGlsbCBuYW1lIGAkb3V0L2Jpbi88dm1tPmAsIHdoaWNoIHRoZSBwYWNrYWdlIGRvZXMgbm90IGNvbnRhaW4sIHNvIHRoaXMKIyAgIG1vZHVsZSBwb2ludHMgdGhlbSBhdCBuaXhwa2dzJyBjbG91ZC1oeXBlcnZpc29yIGFuZCBmaXJlY3JhY2tlci4KIyAtIEJvdGggcnVudGltZXMgY2Fub25pY2FsaXNlIHRoZSBjb25maWd1cmF0aW9uIHBhdGggKHN5bWxpbmtzIHJlc29sdmVkKQojICAgYW5kIHRoZW4gbWVyZ2UgYGNvbmZpZy5kLyoudG9tbGAgbmV4dCB0byBpdCBpbiBuYW1lIG9yZGVyOyBydW50aW1lLXJzCiMgICByZWplY3RzIGEgZHJvcC1pbiB0aGF0IGlzIGEgc3ltbGluayAoa2F0YS10eXBlcyBjb25maWcvZHJvcF9pbi5ycykuIFNvIHRoZQojICAgc2hpcHBlZCBmaWxlIGFuZCB0aGUgZHJvcC1pbiBhcmUgKmNvcGllZCogaW50byBvbmUgc3RvcmUgZGlyZWN0b3J5LgojIC0gS2F0YSdzIG93biBtaW5pbXVtIGd1ZXN0IG1lbW9yeTogNjQgTWlCIGZvciBxZW11LCBjbG91ZC1oeXBlcnZpc29yIGFuZAojICAgZHJhZ29uYmFsbCwgMTI4IE1pQiBmb3IgZmlyZWNyYWNrZXIgKGthdGEtdHlwZXMgY29uZmlnL2RlZmF1bHQucnMpLgp7IGNvbmZpZywgbGliLCBwa2dzLCAuLi4gfToKCmxldAogIGluaGVyaXQgKGxpYikKICAgIGxpdGVyYWxFeHByZXNzaW9uCiAgICBta0RlZmF1bHQKICAgIG1rRW5hYmxlT3B0aW9uCiAgICBta0lmCiAgICBta01lcmdlCiAgICBta09wdGlvbgogICAgbWtQYWNrYWdlT3B0aW9uCiAgICBvcHRpb25hbAogICAgdHlwZXMKICAgIDsKCiAgY2ZnID0gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczsKCiAgc2V0dGluZ3NGb3JtYXQgPSBwa2dzLmZvcm1hdHMudG9tbCB7IH07CgogIHN5c3RlbSA9IHBrZ3Muc3RkZW52Lmhvc3RQbGF0Zm9ybS5zeXN0ZW07CiAgc3VwcG9ydGVkU3lzdGVtcyA9IFsgIng4Nl82NC1saW51eCIgImFhcmNoNjQtbGludXgiIF07CgogICMgcnVudGltZS1ycyBmcm9tIDQuMCBvbjsgdGhlIEdvIHJ1bnRpbWUgYmVmb3JlLgogIGlzUnVudGltZVJzID0gbGliLnZlcnNpb25BdExlYXN0IChsaWIuZ2V0VmVyc2lvbiBjZmcucGFja2FnZSkgIjQiOwogIHJ1bnRpbWVOYW1lID0gaWYgaXNSdW50aW1lUnMgdGhlbiAicnVudGltZS1ycyIgZWxzZSAidGhlIEdvIHJ1bnRpbWUiOwoKICAjIFBlciBoeXBlcnZpc29yOiB0aGUgVE9NTCBzZWN0aW9uIGl0cyBzZXR0aW5ncyBsaXZlIGluLCB0aGUgY29uZmlndXJhdGlvbgogICMgZmlsZSBlYWNoIHJ1bnRpbWUgc2hpcHMgZm9yIGl0LCB0aGUgc2hvcnQgbmFtZSBrYXRhLWRlcGxveSBhbmQga2F0YWZsZWV0J3MKICAjIG90aGVyIGluc3RhbGwgcGF0aHMgdXNlIGluIGhhbmRsZXIgbmFtZXMsIGFuZCBLYXRhJ3MgbWluaW11bSBtZW1vcnkuCiAgaHlwZXJ2aXNvcnMgPSB7CiAgICBxZW11ID0gewogICAgICBzZWN0aW9uID0gInFlbXUiOwogICAgICBzaG9ydCA9ICJxZW11IjsKICAgICAgcnNDb25maWcgPSAiY29uZmlndXJhdGlvbi1xZW11LXJ1bnRpbWUtcnMudG9tbCI7CiAgICAgIHJzU3lzdGVtcyA9IHN1cHBvcnRlZFN5c3RlbXM7CiAgICAgIGdvQ29uZmlnID0gImNvbmZpZ3VyYXRpb24tcWVtdS50b21sIjsKICAgICAgbWluTWVtb3J5ID0gNjQ7CiAgICB9OwogICAgY2xvdWQtaHlwZXJ2aXNvciA9IHsKICAgICAgc2VjdGlvbiA9ICJjbGgiOwogICAgICBzaG9ydCA9ICJjbGgiOwogICAgICByc0NvbmZpZyA9ICJjb25maWd1cmF0aW9uLWNsaC1ydW50aW1lLXJzLnRvbWwiOwogICAgICByc1N5c3RlbXMgPSBbICJ4ODZfNjQtbGludXgiIF07CiAgICAgIGdvQ29uZmlnID0gbnVsbDsKICAgICAgbWluTWVtb3J5ID0gNjQ7CiAgICB9OwogICAgZHJhZ29uYmFsbCA9IHsKICAgICAgc2VjdGlvbiA9ICJkcmFnb25iYWxsIjsKICAgICAgc2hvcnQgPSAiZHJhZ29uYmFsbCI7CiAgICAgIHJzQ29uZmlnID0gImNvbmZpZ3VyYXRpb24tZHJhZ29uYmFsbC50b21sIjsKICAgICAgcnNTeXN0ZW1zID0gc3VwcG9ydGVkU3lzdGVtczsKICAgICAgZ29Db25maWcgPSBudWxsOwogICAgICBtaW5NZW1vcnkgPSA2NDsKICAgIH07CiAgICBmaXJlY3JhY2tlciA9IHsKICAgICAgc2VjdGlvbiA9ICJmaXJlY3JhY2tlciI7CiAgICAgIHNob3J0ID0gImZjIjsKICAgICAgcnNDb25maWcgPSAiY29uZmlndXJhdGlvbi1ycy1mYy50b21sIjsKICAgICAgcnNTeXN0ZW1zID0gc3VwcG9ydGVkU3lzdGVtczsKICAgICAgZ29Db25maWcgPSBudWxsOwogICAgICBtaW5NZW1vcnkgPSAxMjg7CiAgICB9OwogIH07CgogIGh2ID0gaHlwZXJ2aXNvcnMuJHtjZmcuaHlwZXJ2aXNvcn07CgogIHNoaXBwZWQgPSBuYW1lOgogICAgbGV0IGggPSBoeXBlcnZpc29ycy4ke25hbWV9OyBpbgogICAgaWYgaXNSdW50aW1lUnMgdGhlbiBsaWIuZWxlbSBzeXN0ZW0gaC5yc1N5c3RlbXMgZWxzZSBoLmdvQ29uZmlnICE9IG51bGw7CiAgc2hpcHBlZE5hbWVzID0gbGliLmZpbHRlciBzaGlwcGVkIChsaWIuYXR0ck5hbWVzIGh5cGVydmlzb3JzKTsKCiAgZGVmYXVsdHNEaXIgPSAiJHtjZmcucGFja2FnZX0vc2hhcmUvZGVmYXVsdHMva2F0YS1jb250YWluZXJzIjsKICBzaGlwcGVkQ29uZmlnID0KICAgIGlmIGlzUnVudGltZVJzIHRoZW4gIiR7ZGVmYXVsdHNEaXJ9L3J1bnRpbWUtcnMvJHtodi5yc0NvbmZpZ30iCiAgICBlbHNlICIke2RlZmF1bHRzRGlyfS8ke2h2LmdvQ29uZmlnfSI7CgogIHNoaW0gPSAiJHtjZmcucGFja2FnZX0vYmluL2NvbnRhaW5lcmQtc2hpbS1rYXRhLXYyIjsKCiAgIyBUaGUgVk1NcyB0aGUgcGFja2FnZSBuYW1lcyBidXQgZG9lcyBub3QgY29udGFpbi4KICBjbGhQYXRoID0gIiR7cGtncy5jbG91ZC1oeXBlcnZpc29yfS9iaW4vY2xvdWQtaHlwZXJ2aXNvciI7CiAgZmNQYXRoID0gIiR7cGtncy5maXJlY3JhY2tlcn0vYmluL2ZpcmVjcmFja2VyIjsKICBqYWlsZXJQYXRoID0gIiR7cGtncy5maXJlY3JhY2tlcn0vYmluL2phaWxlciI7CgogIGRyb3BJbiA9IHNldHRpbmdzRm9ybWF0LmdlbmVyYXRlICI1MC1uaXhvcy50b21sIiBjZmcuc2V0dGluZ3M7CgogIGNvbmZpZ0RpciA9IHBrZ3MucnVuQ29tbWFuZCAia2F0YS1jb250YWluZXJzLWNvbmZpZy0ke2NmZy5oeXBlcnZpc29yfSIgeyB9ICcnCiAgICBta2RpciAtcCAkb3V0L2NvbmZpZy5kCiAgICBjcCAke3NoaXBwZWRDb25maWd9ICRvdXQvY29uZmlndXJhdGlvbi50b21sCiAgICBjcCAke2Ryb3BJbn0gJG91dC9jb25maWcuZC81MC1uaXhvcy50b21sCiAgJyc7CgogIGNvbmZpZ1BhdGggPSAiJHtjb25maWdEaXJ9L2NvbmZpZ3VyYXRpb24udG9tbCI7CgogICMgV2hlcmUgYSBzaGltIHN0YXJ0ZWQgd2l0aG91dCBDb25maWdQYXRoIChlLmcuIGJ5IHBsYWluIGBjdHJgKSBsb29rcyBmaXJzdC4KICBldGNDb25maWcgPQogICAgaWYgaXNSdW50aW1lUnMgdGhlbiAia2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvY29uZmlndXJhdGlvbi50b21sIgogICAgZWxzZSAia2F0YS1jb250YWluZXJzL2NvbmZpZ3VyYXRpb24udG9tbCI7CgogIGVmZmVjdGl2ZU1lbW9yeSA9IGNmZy5zZXR0aW5ncy5oeXBlcnZpc29yLiR7aHYuc2VjdGlvbn0uZGVmYXVsdF9tZW1vcnkgb3IgY2ZnLm1lbW9yeTsKCiAgY3JpUGx1Z2luSWRzID0gewogICAgIjIiID0gImlvLmNvbnRhaW5lcmQuZ3JwYy52MS5jcmkiOwogICAgIjMiID0gImlvLmNvbnRhaW5lcmQuY3JpLnYxLnJ1bnRpbWUiOwogICAgIjQiID0gImlvLmNvbnRhaW5lcmQuY3JpLnYxLnJ1bnRpbWUiOwogIH07CiAgY3JpUGx1Z2luID0gY3JpUGx1Z2luSWRzLiR7dG9TdHJpbmcgY2ZnLmNvbnRhaW5lcmQuY29uZmlnVmVyc2lvbn07CgogIGhhbmRsZXJOYW1lcyA9IFsgImthdGEiICJrYXRhLSR7aHYuc2hvcnR9IiBdOwoKICBjb250YWluZXJkUnVudGltZSA9IHsKICAgIHJ1bnRpbWVfdHlwZSA9ICJpby5jb250YWluZXJkLmthdGEudjIiOwogICAgcnVudGltZV9wYXRoID0gc2hpbTsKICAgIHByaXZpbGVnZWRfd2l0aG91dF9ob3N0X2RldmljZXMgPSB0cnVlOwogICAgcG9kX2Fubm90YXRpb25zID0gWyAiaW8ua2F0YWNvbnRhaW5lcnMuKiIgXTsKICAgIG9wdGlvbnMuQ29uZmlnUGF0aCA9IGNvbmZpZ1BhdGg7CiAgfTsKCiAgIyBTYXlzIHBsYWlubHkgd2hldGhlciB0aGlzIGhvc3QgY2FuIHN0YXJ0IEthdGEgVk1zIGFuZCwgaWYgbm90LCB3aHkuCiAgIyBrYXRhLWN0bCAocnVudGltZS1ycycgb3duIGNoZWNrZXIpIGlzIG5vdCBwYXJ0IG9mIG5peHBrZ3MnIHBhY2thZ2U7IHRoZSBHbwogICMgcnVudGltZSdzIGBrYXRhLXJ1bnRpbWUgY2hlY2tgIGlzLCBhbmQgcnVucyB3aGVuIHByZXNlbnQuCiAgY2hlY2tUb29sID0gcGtncy53cml0ZVNoZWxsQXBwbGljYXRpb24gewogICAgbmFtZSA9ICJrYXRhLWhvc3QtY2hlY2siOwogICAgcnVudGltZUlucHV0cyA9IFsgcGtncy5jb3JldXRpbHMgcGtncy5nbnVncmVwIF07CiAgICB0ZXh0ID0gJycKICAgICAgc2hpbT0ke3NoaW19CiAgICAgIGNvbmZpZz0ke2NvbmZpZ1BhdGh9CiAgICAgIGdvX3J1bnRpbWU9JHtpZiBpc1J1bnRpbWVScyB0aGVuICIiIGVsc2UgIiR7Y2ZnLnBhY2thZ2V9L2Jpbi9rYXRhLXJ1bnRpbWUifQogICAgICBwcm9ibGVtcz0wCiAgICAgIG9rKCkgeyBwcmludGYgJ29rICAgICVzXG4nICIkMSI7IH0KICAgICAgcHJvYmxlbSgpIHsgcHJpbnRmICdGQUlMICAlc1xuJyAiJDEiOyBwcm9ibGVtcz0kKChwcm9ibGVtcyArIDEpKTsgfQoKICAgICAgaWYgWyAtciAvcnVuL3N5c3RlbWQvY29udGFpbmVyIF0gfHwgWyAtZSAvLmRvY2tlcmVudiBdIHx8IFsgLWUgL3J1bi8uY29udGFpbmVyZW52IF07IHRoZW4KICAgICAgICBwcm9ibGVtICJ0aGlzIGhvc3QgaXMgYSBjb250YWluZXI6IEthdGEgbmVlZHMgYSBiYXJlLW1ldGFsIGhvc3Qgb3IgYSBWTSB3aXRoIG5lc3RlZCB2aXJ0dWFsaXNhdGlvbiIKICAgICAgZmkKCiAgICAgIGlmIFsgLWMgL2Rldi9rdm0gXTsgdGhlbgogICAgICAgIGlmIFsgLXIgL2Rldi9rdm0gXSAmJiBbIC13IC9kZXYva3ZtIF07IHRoZW4KICAgICAgICAgIG9rICIvZGV2L2t2bSBpcyB1c2FibGUgYnkgJChpZCAtdW4pIgogICAgICAgIGVsc2UKICAgICAgICAgIHByb2JsZW0gIi9kZXYva3ZtIGV4aXN0cyBidXQgJChpZCAtdW4pIGNhbm5vdCBvcGVuIGl0IHJlYWQtd3JpdGU6IHJ1biBhcyByb290IG9yIGFkZCB0aGUgdXNlciB0byB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMua3ZtVXNlcnMiCiAgICAgICAgZmkKICAgICAgZWxpZiBbICIkKHVuYW1lIC1tKSIgPSB4ODZfNjQgXSAmJiAhIGdyZXAgLUVxdyAndm14fHN2bScgL3Byb2MvY3B1aW5mbzsgdGhlbgogICAgICAgIHByb2JsZW0gIm1pc3NpbmcgS1ZNOiAvZGV2L2t2bSBkb2VzIG5vdCBleGlzdCBhbmQgdGhlIENQVSBzaG93cyBubyB2bXgvc3ZtIGZsYWc7IHZpcnR1YWxpc2F0aW9uIGlzIG9mZiBpbiB0aGUgZmlybXdhcmUsIG9yIHRoaXMgVk0gaGFzIG5vIG5lc3RlZCB2aXJ0dWFsaXNhdGlvbiIKICAgICAgZWxzZQogICAgICAgIHByb2JsZW0gIm1pc3NpbmcgS1ZNOiAvZGV2L2t2bSBkb2VzIG5vdCBleGlzdDsgbG9hZCBrdm0taW50ZWwgb3Iga3ZtLWFtZCAodmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmNwdVZlbmRvcikiCiAgICAgIGZpCgogICAgICBpZiBbIC1jIC9kZXYvdmhvc3QtdnNvY2sgXTsgdGhlbgogICAgICAgIG9rICIvZGV2L3Zob3N0LXZzb2NrIGlzIHByZXNlbnQiCiAgICAgIGVsc2UKICAgICAgICBwcm9ibGVtICJtaXNzaW5nIC9kZXYvdmhvc3QtdnNvY2s6IHRoZSB2aG9zdF92c29jayBtb2R1bGUgaXMgbm90IGxvYWRlZCIKICAgICAgZmkKICAgICAgaWYgZ3JlcCAtcXMgJ152bXdfdnNvY2tfdm1jaV90cmFuc3BvcnQgJyAvcHJvYy9tb2R1bGVzOyB0aGVuCiAgICAgICAgcHJvYmxlbSAidm13X3Zzb2NrX3ZtY2lfdHJhbnNwb3J0IGlzIGxvYWRlZCAoVk13YXJlIGd1ZXN0KTsgaXQgY29uZmxpY3RzIHdpdGggdmhvc3RfdnNvY2siCiAgICAgIGZpCiAgICAgIGlmIFsgLWMgL2Rldi92aG9zdC1uZXQgXTsgdGhlbgogICAgICAgIG9rICIvZGV2L3Zob3N0LW5ldCBpcyBwcmVzZW50IgogICAgICBlbHNlCiAgICAgICAgcHJvYmxlbSAibWlzc2luZyAvZGV2L3Zob3N0LW5ldDogdGhlIHZob3N0X25ldCBtb2R1bGUgaXMgbm90IGxvYWRlZCIKICAgICAgZmkKCiAgICAgIGlmIHZlcnNpb249JCgiJHNoaW0iIC0tdmVyc2lvbiAyPiYxKTsgdGhlbgogICAgICAgIG9rICJzaGltIHJ1bnM6ICQocHJpbnRmICclc1xuJyAiJHZlcnNpb24iIHwgaGVhZCAtbiAxKSIKICAgICAgZWxzZQogICAgICAgIHByb2JsZW0gInRoZSBzaGltICRzaGltIGRvZXMgbm90IHJ1bjogJHZlcnNpb24iCiAgICAgIGZpCiAgICAgIGlmIFsgLXIgIiRjb25maWciIF07IHRoZW4KICAgICAgICBvayAiY29uZmlndXJhdGlvbiAkY29uZmlnIgogICAgICBlbHNlCiAgICAgICAgcHJvYmxlbSAiY2Fubm90IHJlYWQgdGhlIGNvbmZpZ3VyYXRpb24gJGNvbmZpZyIKICAgICAgZmkKCiAgICAgIGlmIFsgLW4gIiRnb19ydW50aW1lIiBdOyB0aGVuCiAgICAgICAgaWYgIiRnb19ydW50aW1lIiAtLWNvbmZpZyAiJGNvbmZpZyIgY2hlY2sgLS1uby1uZXR3b3JrLWNoZWNrczsgdGhlbgogICAgICAgICAgb2sgImthdGEtcnVudGltZSBjaGVjayBwYXNzZWQiCiAgICAgICAgZWxzZQogICAgICAgICAgcHJvYmxlbSAia2F0YS1ydW50aW1lIGNoZWNrIGZhaWxlZCAoc2VlIGFib3ZlKSIKICAgICAgICBmaQogICAgICBmaQoKICAgICAgaWYgWyAiJHByb2JsZW1zIiAtZXEgMCBdOyB0aGVuCiAgICAgICAgZWNobyAia2F0YS1ob3N0LWNoZWNrOiB0aGlzIGhvc3QgY2FuIHJ1biBLYXRhIENvbnRhaW5lcnMiCiAgICAgIGVsc2UKICAgICAgICBlY2hvICJrYXRhLWhvc3QtY2hlY2s6ICRwcm9ibGVtcyBwcm9ibGVtKHMpOyBLYXRhIFZNcyB3aWxsIG5vdCBzdGFydCBoZXJlIgogICAgICAgIGV4aXQgMQogICAgICBmaQogICAgJyc7CiAgfTsKaW4KewogIG9wdGlvbnMudmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzID0gewogICAgZW5hYmxlID0gbWtFbmFibGVPcHRpb24gJycKICAgICAgS2F0YSBDb250YWluZXJzOiBPQ0kgY29udGFpbmVycyB0aGF0IGVhY2ggcnVuIGluIHRoZWlyIG93biBsaWdodHdlaWdodAogICAgICB2aXJ0dWFsIG1hY2hpbmUuIFRoaXMgaW5zdGFsbHMgdGhlIHJ1bnRpbWUgYW5kIGl0cyBjb25maWd1cmF0aW9uOyB1c2UKICAgICAge29wdGlvbn1gdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmNvbnRhaW5lcmQuZW5hYmxlYCBvcgogICAgICB7b3B0aW9ufWB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuZG9ja2VyLmVuYWJsZWAgdG8gb2ZmZXIgaXQgdG8gYQogICAgICBjb250YWluZXIgbWFuYWdlcicnOwoKICAgIHBhY2thZ2UgPSBta1BhY2thZ2VPcHRpb24gcGtncyAia2F0YS1ydW50aW1lIiB7IH07CgogICAgaHlwZXJ2aXNvciA9IG1rT3B0aW9uIHsKICAgICAgdHlwZSA9IHR5cGVzLmVudW0gKGxpYi5hdHRyTmFtZXMgaHlwZXJ2aXNvcnMpOwogICAgICBkZWZhdWx0ID0gInFlbXUiOwogICAgICBleGFtcGxlID0gImNsb3VkLWh5cGVydmlzb3IiOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgVGhlIHZpcnR1YWwgbWFjaGluZSBtb25pdG9yIHRoYXQgcnVucyBlYWNoIHNhbmRib3guIFdpdGggcnVudGltZS1ycwogICAgICAgIChrYXRhLXJ1bnRpbWUgNC54KSBgcWVtdWAsIGBkcmFnb25iYWxsYCAoYnVpbHQgaW50byB0aGUgc2hpbSkgYW5kCiAgICAgICAgYGZpcmVjcmFja2VyYCBhcmUgYXZhaWxhYmxlIG9uIHg4Nl82NC1saW51eCBhbmQgYWFyY2g2NC1saW51eCwgYW5kCiAgICAgICAgYGNsb3VkLWh5cGVydmlzb3JgIG9uIHg4Nl82NC1saW51eCBvbmx5LiBUaGUgR28gcnVudGltZSAoa2F0YS1ydW50aW1lCiAgICAgICAgMy54KSBpbiBuaXhwa2dzIGlzIGJ1aWx0IGZvciBgcWVtdWAgb25seS4gYGZpcmVjcmFja2VyYCBuZWVkcyBhCiAgICAgICAgYmxvY2stZGV2aWNlIHNuYXBzaG90dGVyIChkZXZtYXBwZXIpIGluIGNvbnRhaW5lcmQsIHdoaWNoIHRoaXMgbW9kdWxlCiAgICAgICAgZG9lcyBub3Qgc2V0IHVwLgogICAgICAnJzsKICAgIH07CgogICAgbWVtb3J5ID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMuaW50cy5wb3NpdGl2ZTsKICAgICAgZGVmYXVsdCA9IDIwNDg7CiAgICAgIGV4YW1wbGUgPSA0MDk2OwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgTWVtb3J5IG9mIGVhY2ggc2FuZGJveCBWTSBpbiBNaUIgKEthdGEncyBgZGVmYXVsdF9tZW1vcnlgKS4gS2F0YQogICAgICAgIHJlZnVzZXMgbGVzcyB0aGFuIDY0IE1pQiAoMTI4IE1pQiBmb3IgZmlyZWNyYWNrZXIpLiBBIHZhbHVlIHNldCBpbgogICAgICAgIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5zZXR0aW5nc2AgdGFrZXMgcHJlY2VkZW5jZS4KICAgICAgJyc7CiAgICB9OwoKICAgIHZjcHVzID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMuaW50cy5wb3NpdGl2ZTsKICAgICAgZGVmYXVsdCA9IDE7CiAgICAgIGRlc2NyaXB0aW9uID0gJycKICAgICAgICBWaXJ0dWFsIENQVXMgZWFjaCBzYW5kYm94IFZNIHN0YXJ0cyB3aXRoIChLYXRhJ3MgYGRlZmF1bHRfdmNwdXNgKS4KICAgICAgICBBIHZhbHVlIHNldCBpbiB7b3B0aW9ufWB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuc2V0dGluZ3NgCiAgICAgICAgdGFrZXMgcHJlY2VkZW5jZS4KICAgICAgJyc7CiAgICB9OwoKICAgIGRlYnVnID0gbWtPcHRpb24gewogICAgICB0eXBlID0gdHlwZXMuYm9vbDsKICAgICAgZGVmYXVsdCA9IGZhbHNlOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgVHVybiBvbiBkZWJ1ZyBvdXRwdXQgb2YgdGhlIGh5cGVydmlzb3IsIHRoZSBhZ2VudCBhbmQgdGhlIHJ1bnRpbWUKICAgICAgICAodGhlaXIgYGVuYWJsZV9kZWJ1Z2Aga2V5cykuIExvZ3MgZ28gdG8gdGhlIGpvdXJuYWwgb2YgdGhlIGNvbnRhaW5lcgogICAgICAgIG1hbmFnZXIuCiAgICAgICcnOwogICAgfTsKCiAgICBzZXR0aW5ncyA9IG1rT3B0aW9uIHsKICAgICAgdHlwZSA9IHNldHRpbmdzRm9ybWF0LnR5cGU7CiAgICAgIGRlZmF1bHQgPSB7IH07CiAgICAgIGV4YW1wbGUgPSBsaXRlcmFsRXhwcmVzc2lvbiAnJwogICAgICAgIHsKICAgICAgICAgIGh5cGVydmlzb3IucWVtdS5kZWZhdWx0X21heHZjcHVzID0gODsKICAgICAgICAgIHJ1bnRpbWUuaW50ZXJuZXR3b3JraW5nX21vZGVsID0gInRjZmlsdGVyIjsKICAgICAgICB9CiAgICAgICcnOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgS2F0YSBjb25maWd1cmF0aW9uLCBtZXJnZWQgb3ZlciB0aGUgY29uZmlndXJhdGlvbiB0aGUgcGFja2FnZSBzaGlwcwogICAgICAgIGZvciB0aGUgY2hvc2VuIGh5cGVydmlzb3IuIEl0IGlzIHdyaXR0ZW4gYXMgYSBgY29uZmlnLmRgIGRyb3AtaW4sIHNvCiAgICAgICAgb25seSB0aGUga2V5cyBnaXZlbiBoZXJlIGNoYW5nZS4gU2VlIHRoZSBzaGlwcGVkIGZpbGUKICAgICAgICAoYHNoYXJlL2RlZmF1bHRzL2thdGEtY29udGFpbmVycy9ydW50aW1lLXJzL2AgaW4gdGhlIHBhY2thZ2UpIGZvciB0aGUKICAgICAgICBhdmFpbGFibGUga2V5cy4gVGhlIHR5cGVkIG9wdGlvbnMgYWJvdmUgb25seSBzZXQgZGVmYXVsdHMgaGVyZTsgYQogICAgICAgIHZhbHVlIHNldCBpbiB0aGlzIG9wdGlvbiB3aW5zLgogICAgICAnJzsKICAgIH07CgogICAgY29uZmlnUGF0aCA9IG1rT3B0aW9uIHsKICAgICAgdHlwZSA9IHR5cGVzLnN0cjsKICAgICAgcmVhZE9ubHkgPSB0cnVlOwogICAgICBkZXNjcmlwdGlvbiA9ICcnCiAgICAgICAgVGhlIGNvbmZpZ3VyYXRpb24gZmlsZSBoYW5kZWQgdG8gdGhlIHNoaW0gKGBDb25maWdQYXRoYCk6IGEgc3RvcmUKICAgICAgICBwYXRoIHdob3NlIGRpcmVjdG9yeSBhbHNvIGhvbGRzIHRoZSBgY29uZmlnLmRgIGRyb3AtaW4uIEFsc28gbGlua2VkCiAgICAgICAgYXQgYC9ldGMva2F0YS1jb250YWluZXJzL3J1bnRpbWUtcnMvY29uZmlndXJhdGlvbi50b21sYCAoR28gcnVudGltZToKICAgICAgICBgL2V0Yy9rYXRhLWNvbnRhaW5lcnMvY29uZmlndXJhdGlvbi50b21sYCkgZm9yIHRvb2xzIHRoYXQgZG8gbm90IHBhc3MKICAgICAgICBhIHBhdGguCiAgICAgICcnOwogICAgfTsKCiAgICBrdm1Vc2VycyA9IG1rT3B0aW9uIHsKICAgICAgdHlwZSA9IHR5cGVzLmxpc3RPZiB0eXBlcy5zdHI7CiAgICAgIGRlZmF1bHQgPSBbIF07CiAgICAgIGV4YW1wbGUgPSBbICJhbGljZSIgXTsKICAgICAgZGVzY3JpcHRpb24gPSAnJwogICAgICAgIFVzZXJzIGFkZGVkIHRvIHRoZSBga3ZtYCBncm91cCwgc28gdGhhdCB0aGV5IGNhbiBvcGVuIC9kZXYva3ZtLCBmb3IKICAgICAgICBleGFtcGxlIHRvIHJ1biB7Y29tbWFuZH1ga2F0YS1ob3N0LWNoZWNrYCBvciBhIHJvb3RsZXNzIGNvbnRhaW5lcgogICAgICAgIG1hbmFnZXIuIFJvb3QgbmVlZHMgbm8gZW50cnkuCiAgICAgICcnOwogICAgfTsKCiAgICBjcHVWZW5kb3IgPSBta09wdGlvbiB7CiAgICAgIHR5cGUgPSB0eXBlcy5udWxsT3IgKHR5cGVzLmVudW0gWyAiaW50ZWwiICJhbWQiIF0pOwogICAgICBkZWZhdWx0ID0KICAgICAgICBpZiBjb25maWcuaGFyZHdhcmUuY3B1LmludGVsLnVwZGF0ZU1pY3JvY29kZSB0aGVuICJpbnRlbCIKICAgICAgICBlbHNlIGlmIGNvbmZpZy5oYXJkd2FyZS5jcHUuYW1kLnVwZGF0ZU1pY3JvY29kZSB0aGVuICJhbWQiCiAgICAgICAgZWxzZSBudWxsOwogICAgICBkZWZhdWx0VGV4dCA9IGxpdGVyYWxFeHByZXNzaW9uICcnCiAgICAgICAgaWYgY29uZmlnLmhhcmR3YXJlLmNwdS5pbnRlbC51cGRhdGVNaWNyb2NvZGUgdGhlbiAiaW50ZWwiCiAgICAgICAgZWxzZSBpZiBjb25maWcuaGFyZHdhcmUuY3B1LmFtZC51cGRhdGVNaWNyb2NvZGUgdGhlbiAiYW1kIgogICAgICAgIGVsc2UgbnVsbAogICAgICAnJzsKICAgICAgZGVzY3JpcHRpb24gPSAnJwogICAgICAgIE9uIHg4Nl82NCwgd2hvc2UgS1ZNIG1vZHVsZSB0byBsb2FkOiBga3ZtLWludGVsYCBvciBga3ZtLWFtZGAuCiAgICAgICAgYG51bGxgIGxlYXZlcyBpdCB0byB0aGUgaGFyZHdhcmUgY29uZmlndXJhdGlvbiwgd2hpY2gKICAgICAgICB7Y29tbWFuZH1gbml4b3MtZ2VuZXJhdGUtY29uZmlnYCBhbHJlYWR5IHdyaXRlcyB3aXRoIHRoZSByaWdodCBvbmUuCiAgICAgICAgTXVzdCBiZSBgbnVsbGAgb24gYWFyY2g2NCwgd2hlcmUgS1ZNIGlzIGJ1aWx0IGludG8gdGhlIGtlcm5lbC4KICAgICAgJyc7CiAgICB9OwoKICAgIGNvbnRhaW5lcmQgPSB7CiAgICAgIGVuYWJsZSA9IG1rRW5hYmxlT3B0aW9uICcnCiAgICAgICAgdGhlIHJ1bnRpbWUgaGFuZGxlcnMgYGthdGFgIGFuZCBga2F0YS08aHlwZXJ2aXNvcj5gIGluIGNvbnRhaW5lcmQncwogICAgICAgIENSSSBwbHVnaW4gKGZvciBLdWJlcm5ldGVzIFJ1bnRpbWVDbGFzc2VzIGFuZCB7Y29tbWFuZH1gY3JpY3RsYCkuCiAgICAgICAgVGhlIGRlZmF1bHQgcnVudGltZSBzdGF5cyBhcyBpdCBpcycnOwoKICAgICAgY29uZmlnVmVyc2lvbiA9IG1rT3B0aW9uIHsKICAgICAgICB0eXBlID0gdHlwZXMuZW51bSBbIDIgMyA0IF07CiAgICAgICAgZGVmYXVsdCA9IDI7CiAgICAgICAgZGVzY3JpcHRpb24gPSAnJwogICAgICAgICAgVGhlIGB2ZXJzaW9uYCBvZiB0aGUgY29udGFpbmVyZCBjb25maWd1cmF0aW9uIHRoYXQKICAgICAgICAgIHtvcHRpb259YHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuc2V0dGluZ3NgIHByb2R1Y2VzOyBpdCBkZWNpZGVzCiAgICAgICAgICB0aGUgQ1JJIHBsdWdpbiBpZCB0aGUgaGFuZGxlcnMgZ28gdW5kZXIgKDI6CiAgICAgICAgICBgaW8uY29udGFpbmVyZC5ncnBjLnYxLmNyaWAsIDMgYW5kIDQ6CiAgICAgICAgICBgaW8uY29udGFpbmVyZC5jcmkudjEucnVudGltZWApLiBUaGUgZGVmYXVsdCBtYXRjaGVzIE5peE9TJwogICAgICAgICAgY29udGFpbmVyZCBtb2R1bGUsIHdoaWNoIHdyaXRlcyBgdmVyc2lvbiA9IDJgLiBBbiBhc3NlcnRpb24gY2hlY2tzCiAgICAgICAgICB0aGF0IHRoZSB0d28gYWdyZWUuCiAgICAgICAgJyc7CiAgICAgIH07CiAgICB9OwoKICAgIGRvY2tlci5lbmFibGUgPSBta0VuYWJsZU9wdGlvbiAnJwogICAgICB0aGUgYGthdGFgIHJ1bnRpbWUgaW4gRG9ja2VyJ3MgZGFlbW9uLmpzb24gKGBkb2NrZXIgcnVuIC0tcnVudGltZSBrYXRhYCkuCiAgICAgIFRoZSBkZWZhdWx0IHJ1bnRpbWUgc3RheXMgYXMgaXQgaXMnJzsKICB9OwoKICBjb25maWcgPSBta0lmIGNmZy5lbmFibGUgKG1rTWVyZ2UgWwogICAgewogICAgICBhc3NlcnRpb25zID0gWwogICAgICAgIHsKICAgICAgICAgIGFzc2VydGlvbiA9IGxpYi5lbGVtIHN5c3RlbSBzdXBwb3J0ZWRTeXN0ZW1zOwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczogJHtzeXN0ZW19IGlzIG5vdCBzdXBwb3J0ZWQ7IEthdGEKICAgICAgICAgICAgQ29udGFpbmVycyBmcm9tIG5peHBrZ3MgcnVucyBvbiAke2xpYi5jb25jYXRTdHJpbmdzU2VwICIgYW5kICIgc3VwcG9ydGVkU3lzdGVtc30uCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gc2hpcHBlZCBjZmcuaHlwZXJ2aXNvcjsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuaHlwZXJ2aXNvciA9ICIke2NmZy5oeXBlcnZpc29yfSIsIGJ1dAogICAgICAgICAgICAke2NmZy5wYWNrYWdlLm5hbWV9ICgke3J1bnRpbWVOYW1lfSkgb24gJHtzeXN0ZW19IHNoaXBzIG5vCiAgICAgICAgICAgIGNvbmZpZ3VyYXRpb24gZm9yIGl0LiBDaG9vc2Ugb25lIG9mOiAke2xpYi5jb25jYXRTdHJpbmdzU2VwICIsICIgc2hpcHBlZE5hbWVzfS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgICB7CiAgICAgICAgICBhc3NlcnRpb24gPSBlZmZlY3RpdmVNZW1vcnkgPj0gaHYubWluTWVtb3J5OwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVyczogZWFjaCBzYW5kYm94IFZNIHdvdWxkIGdldAogICAgICAgICAgICAke3RvU3RyaW5nIGVmZmVjdGl2ZU1lbW9yeX0gTWlCLCBidXQgS2F0YSdzICR7Y2ZnLmh5cGVydmlzb3J9CiAgICAgICAgICAgIG5lZWRzIGF0IGxlYXN0ICR7dG9TdHJpbmcgaHYubWluTWVtb3J5fSBNaUIuIFJhaXNlCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5tZW1vcnkuCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gY2ZnLmNwdVZlbmRvciA9PSBudWxsIHx8IGxpYi5oYXNQcmVmaXggIng4Nl82NC0iIHN5c3RlbTsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuY3B1VmVuZG9yID0gIiR7dG9TdHJpbmcgY2ZnLmNwdVZlbmRvcn0iIG9ubHkKICAgICAgICAgICAgYXBwbGllcyB0byB4ODZfNjQ7IHNldCBpdCB0byBudWxsIG9uICR7c3lzdGVtfS4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgICB7CiAgICAgICAgICBhc3NlcnRpb24gPSBjZmcuY29udGFpbmVyZC5lbmFibGUgLT4gY29uZmlnLnZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuZW5hYmxlOwogICAgICAgICAgbWVzc2FnZSA9ICcnCiAgICAgICAgICAgIHZpcnR1YWxpc2F0aW9uLmthdGEtY29udGFpbmVycy5jb250YWluZXJkLmVuYWJsZSBhZGRzIHJ1bnRpbWUKICAgICAgICAgICAgaGFuZGxlcnMgdG8gY29udGFpbmVyZCwgYnV0IHZpcnR1YWxpc2F0aW9uLmNvbnRhaW5lcmQuZW5hYmxlIGlzCiAgICAgICAgICAgIGZhbHNlLiBFbmFibGUgY29udGFpbmVyZCwgb3IgdHVybiB0aGUgS2F0YSBoYW5kbGVycyBvZmYuCiAgICAgICAgICAnJzsKICAgICAgICB9CiAgICAgICAgewogICAgICAgICAgYXNzZXJ0aW9uID0gY2ZnLmNvbnRhaW5lcmQuZW5hYmxlIC0+CiAgICAgICAgICAgIChjb25maWcudmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy52ZXJzaW9uIG9yIG51bGwpID09IGNmZy5jb250YWluZXJkLmNvbmZpZ1ZlcnNpb247CiAgICAgICAgICBtZXNzYWdlID0gJycKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy52ZXJzaW9uIGlzCiAgICAgICAgICAgICR7dG9TdHJpbmcgKGNvbmZpZy52aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLnNldHRpbmdzLnZlcnNpb24gb3IgInVuc2V0Iil9LCBidXQgdGhlCiAgICAgICAgICAgIEthdGEgaGFuZGxlcnMgd2VyZSB3cml0dGVuIGZvciB2ZXJzaW9uICR7dG9TdHJpbmcgY2ZnLmNvbnRhaW5lcmQuY29uZmlnVmVyc2lvbn0KICAgICAgICAgICAgKENSSSBwbHVnaW4gIiR7Y3JpUGx1Z2lufSIpLiBTZXQKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmNvbnRhaW5lcmQuY29uZmlnVmVyc2lvbiB0byBtYXRjaC4KICAgICAgICAgICcnOwogICAgICAgIH0KICAgICAgICB7CiAgICAgICAgICBhc3NlcnRpb24gPSBjZmcuZG9ja2VyLmVuYWJsZSAtPiBjb25maWcudmlydHVhbGlzYXRpb24uZG9ja2VyLmVuYWJsZTsKICAgICAgICAgIG1lc3NhZ2UgPSAnJwogICAgICAgICAgICB2aXJ0dWFsaXNhdGlvbi5rYXRhLWNvbnRhaW5lcnMuZG9ja2VyLmVuYWJsZSBhZGRzIHRoZSBga2F0YWAKICAgICAgICAgICAgcnVudGltZSB0byBEb2NrZXIsIGJ1dCB2aXJ0dWFsaXNhdGlvbi5kb2NrZXIuZW5hYmxlIGlzIGZhbHNlLgogICAgICAgICAgJyc7CiAgICAgICAgfQogICAgICBdOwoKICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLmNvbmZpZ1BhdGggPSBjb25maWdQYXRoOwogICAgICBzeXN0ZW0uYnVpbGQua2F0YUNvbnRhaW5lcnNDb25maWcgPSBjb25maWdEaXI7CgogICAgICAjIERlZmF1bHRzIG9ubHk6IGFueXRoaW5nIHRoZSB1c2VyIHdyaXRlcyBpbnRvIGBzZXR0aW5nc2Agd2lucy4KICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzLnNldHRpbmdzID0gbWtNZXJnZSBbCiAgICAgICAgewogICAgICAgICAgaHlwZXJ2aXNvci4ke2h2LnNlY3Rpb259ID0gewogICAgICAgICAgICBkZWZhdWx0X21lbW9yeSA9IG1rRGVmYXVsdCBjZmcubWVtb3J5OwogICAgICAgICAgICBkZWZhdWx0X3ZjcHVzID0gbWtEZWZhdWx0IGNmZy52Y3B1czsKICAgICAgICAgICAgZW5hYmxlX2RlYnVnID0gbWtEZWZhdWx0IGNmZy5kZWJ1ZzsKICAgICAgICAgIH07CiAgICAgICAgICBhZ2VudC5rYXRhLmVuYWJsZV9kZWJ1ZyA9IG1rRGVmYXVsdCBjZmcuZGVidWc7CiAgICAgICAgICBydW50aW1lLmVuYWJsZV9kZWJ1ZyA9IG1rRGVmYXVsdCBjZmcuZGVidWc7CiAgICAgICAgfQogICAgICAgIChta0lmIChpc1J1bnRpbWVScyAmJiBjZmcuaHlwZXJ2aXNvciA9PSAiY2xvdWQtaHlwZXJ2aXNvciIpIHsKICAgICAgICAgIGh5cGVydmlzb3IuY2xoID0gewogICAgICAgICAgICBwYXRoID0gbWtEZWZhdWx0IGNsaFBhdGg7CiAgICAgICAgICAgIHZhbGlkX2h5cGVydmlzb3JfcGF0aHMgPSBta0RlZmF1bHQgWyBjbGhQYXRoIF07CiAgICAgICAgICB9OwogICAgICAgIH0pCiAgICAgICAgKG1rSWYgKGlzUnVudGltZVJzICYmIGNmZy5oeXBlcnZpc29yID09ICJmaXJlY3JhY2tlciIpIHsKICAgICAgICAgIGh5cGVydmlzb3IuZmlyZWNyYWNrZXIgPSB7CiAgICAgICAgICAgIHBhdGggPSBta0RlZmF1bHQgZmNQYXRoOwogICAgICAgICAgICB2YWxpZF9oeXBlcnZpc29yX3BhdGhzID0gbWtEZWZhdWx0IFsgZmNQYXRoIF07CiAgICAgICAgICAgIGphaWxlcl9wYXRoID0gbWtEZWZhdWx0IGphaWxlclBhdGg7CiAgICAgICAgICAgIHZhbGlkX2phaWxlcl9wYXRocyA9IG1rRGVmYXVsdCBbIGphaWxlclBhdGggXTsKICAgICAgICAgIH07CiAgICAgICAgfSkKICAgICAgXTsKCiAgICAgIGVudmlyb25tZW50LnN5c3RlbVBhY2thZ2VzID0gWyBjZmcucGFja2FnZSBjaGVja1Rvb2wgXTsKICAgICAgZW52aXJvbm1lbnQuZXRjLiR7ZXRjQ29uZmlnfS5zb3VyY2UgPSBjb25maWdQYXRoOwoKICAgICAgYm9vdC5rZXJuZWxNb2R1bGVzID0gWyAidmhvc3RfdnNvY2siICJ2aG9zdF9uZXQiIF0KICAgICAgICArKyBvcHRpb25hbCAoY2ZnLmNwdVZlbmRvciA9PSAiaW50ZWwiKSAia3ZtLWludGVsIgogICAgICAgICsrIG9wdGlvbmFsIChjZmcuY3B1VmVuZG9yID09ICJhbWQiKSAia3ZtLWFtZCI7CgogICAgICB1c2Vycy5ncm91cHMua3ZtLm1lbWJlcnMgPSBjZmcua3ZtVXNlcnM7CiAgICB9CgogICAgKG1rSWYgY2ZnLmNvbnRhaW5lcmQuZW5hYmxlIHsKICAgICAgdmlydHVhbGlzYXRpb24uY29udGFpbmVyZC5zZXR0aW5ncy5wbHVnaW5zLiR7Y3JpUGx1Z2lufS5jb250YWluZXJkLnJ1bnRpbWVzID0KICAgICAgICBsaWIuZ2VuQXR0cnMgaGFuZGxlck5hbWVzIChfOiBjb250YWluZXJkUnVudGltZSk7CiAgICAgICMgU28gdGhhdCBgY3RyIHJ1biAtLXJ1bnRpbWUgaW8uY29udGFpbmVyZC5rYXRhLnYyYCBmaW5kcyB0aGUgc2hpbSB0b28uCiAgICAgIHN5c3RlbWQuc2VydmljZXMuY29udGFpbmVyZC5wYXRoID0gWyBjZmcucGFja2FnZSBdOwogICAgfSkKCiAgICAobWtJZiBjZmcuZG9ja2VyLmVuYWJsZSB7CiAgICAgIHZpcnR1YWxpc2F0aW9uLmRvY2tlci5kYWVtb24uc2V0dGluZ3MucnVudGltZXMua2F0YSA9IHsKICAgICAgICBydW50aW1lVHlwZSA9IHNoaW07CiAgICAgICAgb3B0aW9ucy5Db25maWdQYXRoID0gY29uZmlnUGF0aDsKICAgICAgfTsKICAgIH0pCgogICAgKG1rSWYKICAgICAgKGNmZy5kb2NrZXIuZW5hYmxlICYmICFpc1J1bnRpbWVScwogICAgICAgICYmIGxpYi52ZXJzaW9uT2xkZXIgKGxpYi5nZXRWZXJzaW9uIGNmZy5wYWNrYWdlKSAiMy4zMiIKICAgICAgICAmJiBsaWIudmVyc2lvbkF0TGVhc3QgKGxpYi5nZXRWZXJzaW9uIGNvbmZpZy52aXJ0dWFsaXNhdGlvbi5kb2NrZXIucGFja2FnZSkgIjI5IikKICAgICAgewogICAgICAgIHdhcm5pbmdzID0gWwogICAgICAgICAgJycKICAgICAgICAgICAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzOiBEb2NrZXIgJHtsaWIuZ2V0VmVyc2lvbiBjb25maWcudmlydHVhbGlzYXRpb24uZG9ja2VyLnBhY2thZ2V9CiAgICAgICAgICAgIG5lZWRzIHRoZSBHbyBydW50aW1lIG9mIEthdGEgMy4zMiBvciBsYXRlciwgYnV0ICR7Y2ZnLnBhY2thZ2UubmFtZX0gaXMgb2xkZXI7CiAgICAgICAgICAgIGBkb2NrZXIgcnVuIC0tcnVudGltZSBrYXRhYCB3aWxsIGZhaWwuCiAgICAgICAgICAnJwogICAgICAgIF07CiAgICAgIH0pCiAgXSk7Cn0K && kf_put '/etc/nixos/katafleet.nix' 644 IyBXcml0dGVuIGJ5IGthdGFmbGVldDsgdGhlIG5leHQgYGthdGFmbGVldCBwcm92aXNpb25gIHJlcGxhY2VzIGl0LCBzbyBjaGFuZ2UKIyB0aGUgaW52ZW50b3J5IHJhdGhlciB0aGFuIHRoaXMgZmlsZS4gL2V0Yy9uaXhvcy9jb25maWd1cmF0aW9uLm5peCBtdXN0CiMgaW1wb3J0IGl0OgojCiMgICBpbXBvcnRzID0gWyAuL2thdGFmbGVldC5uaXggXTsKIwojIFRoZSBvcHRpb25zIGJlbG93IGFyZSBkZWNsYXJlZCBieSAuL2thdGFmbGVldC1tb2R1bGUubml4LCB0aGUgTml4T1MgbW9kdWxlCiMgZnJvbSBrYXRhZmxlZXQncyBmbGFrZSAobml4L21vZHVsZS5uaXgpLCB3aGljaCBrYXRhZmxlZXQgd3JpdGVzIG5leHQgdG8gdGhpcwojIGZpbGUsIHNvIGEgaG9zdCBuZWVkcyBuZWl0aGVyIHRoZSBmbGFrZSBub3IgbmV0d29yayBhY2Nlc3MgdG8gZXZhbHVhdGUgaXQuCnsgbGliLCAuLi4gfToKewogIGltcG9ydHMgPSBbIC4va2F0YWZsZWV0LW1vZHVsZS5uaXggXTsKCiAgdmlydHVhbGlzYXRpb24ua2F0YS1jb250YWluZXJzID0gewogICAgZW5hYmxlID0gdHJ1ZTsKICAgIGh5cGVydmlzb3IgPSAicWVtdSI7CiAgICBtZW1vcnkgPSAyMDQ4OwogICAgdmNwdXMgPSAxOwogICAgZGVidWcgPSBmYWxzZTsKICAgIGNvbnRhaW5lcmQuZW5hYmxlID0gdHJ1ZTsKICAgIGRvY2tlci5lbmFibGUgPSB0cnVlOwogICAga3ZtVXNlcnMgPSBbICJhbGljZSIgXTsKICB9OwoKICB2aXJ0dWFsaXNhdGlvbi5jb250YWluZXJkLmVuYWJsZSA9IGxpYi5ta0RlZmF1bHQgdHJ1ZTsKCiAgdmlydHVhbGlzYXRpb24uZG9ja2VyLmVuYWJsZSA9IGxpYi5ta0RlZmF1bHQgdHJ1ZTsKfQo=; }; then kf_revert '/etc/nixos/katafleet-module.nix' '/etc/nixos/katafleet.nix'; kf_report 1 failed 'cannot write the NixOS configuration; nothing changed'; exit 1; fi
if ! nixos-rebuild test >"$KF_RUN/rebuild.log" 2>&1; then kf_revert '/etc/nixos/katafleet-module.nix' '/etc/nixos/katafleet.nix'; /nix/var/nix/profiles/system/bin/switch-to-configuration test >/dev/null 2>&1; kf_report 1 failed "nixos-rebuild test failed, so the previous files and system are back: $(tail -n 15 "$KF_RUN/rebuild.log")"; exit 1; fi
kf_report 1 changed 'activated with nixos-rebuild test (switch follows verification)'
kf_record 1 '/var/lib/katafleet/manifest.json' ewogICJmaWxlcyI6IHsKICAgICIvZXRjL25peG9zL2thdGFmbGVldC1tb2R1bGUubml4IjogewogICAgICAic2hhMjU2IjogIjhiNjk4MzgyZjJlMGM4ZWMwYzFkN2I2NmZlZGExNzk3NzUyZGY2MTc1MzBjODkwMDc5ZmVlMTZhYjY2ZjE3NTciLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0sCiAgICAiL2V0Yy9uaXhvcy9rYXRhZmxlZXQubml4IjogewogICAgICAic2hhMjU2IjogIjA3MWVhMjViMWRhZmZjOTQ1NTVkODdhNWEzNTY2N2JiZGFlNzk0NjE0Y2M3M2YxZDEyNWFkMjVkNmZjNWQyNmMiLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0KICB9LAogICJjb250YWluZXJkX2hhbmRsZXJzIjogWwogICAgImthdGEiCiAgXSwKICAiZG9ja2VyX3J1bnRpbWVzIjogW10KfQo=

kf_record 1 '/var/lib/katafleet/manifest.json' ewogICJmaWxlcyI6IHsKICAgICIvZXRjL25peG9zL2thdGFmbGVldC1tb2R1bGUubml4IjogewogICAgICAic2hhMjU2IjogIjhiNjk4MzgyZjJlMGM4ZWMwYzFkN2I2NmZlZGExNzk3NzUyZGY2MTc1MzBjODkwMDc5ZmVlMTZhYjY2ZjE3NTciLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0sCiAgICAiL2V0Yy9uaXhvcy9rYXRhZmxlZXQubml4IjogewogICAgICAic2hhMjU2IjogIjA3MWVhMjViMWRhZmZjOTQ1NTVkODdhNWEzNTY2N2JiZGFlNzk0NjE0Y2M3M2YxZDEyNWFkMjVkNmZjNWQyNmMiLAogICAgICAiY3JlYXRlZCI6IHRydWUKICAgIH0KICB9LAogICJjb250YWluZXJkX2hhbmRsZXJzIjogWwogICAgImthdGEiCiAgXSwKICAiZG9ja2VyX3J1bnRpbWVzIjogW10KfQo=
kf_put /var/lib/katafleet/last-provision 644 "$(printf 'time=%s\nkatafleet=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '0.0.0-golden' | base64 | tr -d '\n')"
exit 0
