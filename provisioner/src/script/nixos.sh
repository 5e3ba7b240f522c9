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
