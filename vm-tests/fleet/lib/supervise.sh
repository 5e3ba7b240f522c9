# shellcheck shell=bash
# The supervisor (`fleet __supervise NAME`, started by `up` under setsid in a
# private mount namespace): mounts each host's overlay, starts one
# systemd-nspawn per host as its own child (so exits are reaped at once),
# restarts a host that reboots, records hosts that exit, and on SIGTERM stops
# every machine with SIGTERM and waits for them.

SUP_STOPPING=0
SUP_TIMER=
declare -A SUP_IDX=()   # nspawn pid -> host index
declare -a SUP_CGROOTS=() SUP_ENV=() SUP_BINDS=()

supervise() {
	local name=$1 st wd suite count i h dpid rc
	st=$(state_dir "$name")
	wd=$(cat "$st/workdir")
	suite=$(cat "$st/suite")
	count=$(cat "$st/count")
	mapfile -t SUP_BINDS < <(grep . "$st/binds" || true)
	read -ra SUP_CGROOTS <<<"$(cgroup_roots "$name")"
	# systemd >= 257 (trixie, sid) does not boot under this nspawn on the
	# machine's hybrid cgroup layout: give those a pure cgroup2 tree.
	[[ $suite != bookworm ]] && SUP_ENV+=(SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1)
	trap sup_stop TERM INT HUP

	log "supervisor $$: fleet $name, $count $suite hosts"
	for ((i = 1; i <= count; i++)); do
		((SUP_STOPPING)) && break
		h=$(host_name "$name" "$i")
		mount -t overlay overlay \
			-o "lowerdir=$(rootfs_dir "$suite"),upperdir=$wd/$h/upper,workdir=$wd/$h/work" "$wd/$h/root"
		sup_launch "$name" "$i"
	done

	while ((${#SUP_IDX[@]})); do
		dpid='' rc=0
		wait -n -p dpid || rc=$?
		# Woken by a signal (trap ran), or by the stop timer.
		if [[ -n ${dpid:-} && $dpid == "$SUP_TIMER" ]]; then
			sup_force
			continue
		fi
		[[ -n ${dpid:-} && -n ${SUP_IDX[$dpid]:-} ]] || continue
		i=${SUP_IDX[$dpid]}
		unset "SUP_IDX[$dpid]"
		h=$(host_name "$name" "$i")
		((SUP_STOPPING)) && continue
		if ((rc == 133)); then
			log "$h rebooted; starting it again"
			sup_launch "$name" "$i"
		else
			log "$h exited with status $rc"
			echo "$rc" >"$st/exited/$h"
		fi
	done

	if [[ -n $SUP_TIMER ]]; then
		kill "$SUP_TIMER" 2>/dev/null || true
		wait "$SUP_TIMER" 2>/dev/null || true
	fi
	local cg
	for ((i = 1; i <= count; i++)); do
		h=$(host_name "$name" "$i")
		umount "$wd/$h/root" 2>/dev/null || umount -l "$wd/$h/root" 2>/dev/null || true
		for cg in "${SUP_CGROOTS[@]}"; do cgroup_rmtree "$cg/$h" || true; done
	done
	log "supervisor $$: all machines of fleet $name stopped"
}

# Start host I: its own cgroup (on every hierarchy), then exec systemd-nspawn.
sup_launch() {
	local name=$1 i=$2 st wd h cg
	st=$(state_dir "$name")
	wd=$(work_dir "$name")
	h=$(host_name "$name" "$i")
	for cg in "${SUP_CGROOTS[@]}"; do
		cgroup_rmtree "$cg/$h" || true
		mkdir -p "$cg/$h"
	done
	# CAP_NET_ADMIN (only over the host's own netns) lets dockerd make its
	# bridge; keyctl and bpf let runc start containers (sid: docker run works).
	(
		for cg in "${SUP_CGROOTS[@]}"; do echo "$BASHPID" >"$cg/$h/cgroup.procs"; done
		exec env "${SUP_ENV[@]}" systemd-nspawn --boot --directory="$wd/$h/root" --machine="$h" \
			--keep-unit --register=no --network-namespace-path="/run/netns/$(host_ns "$name" "$i")" \
			--link-journal=no --resolv-conf=off --timezone=off --console=read-only \
			--capability=CAP_NET_ADMIN --system-call-filter="add_key keyctl request_key bpf" \
			"${SUP_BINDS[@]}" </dev/null >>"$st/logs/$h.log" 2>&1
	) &
	SUP_IDX[$!]=$i
	echo $! >"$st/pids/$h"
}

# SIGTERM each systemd-nspawn: a clean shutdown of the machine in ~0.2 s.
sup_stop() {
	SUP_STOPPING=1
	local p
	for p in "${!SUP_IDX[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	# Escalate if a machine is still there after 30 s (see the wait loop).
	if [[ -z $SUP_TIMER ]]; then
		sleep 30 &
		SUP_TIMER=$!
	fi
}

sup_force() {
	log "machines still running 30s after SIGTERM; killing them"
	local p cg
	for p in "${!SUP_IDX[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for cg in "${SUP_CGROOTS[@]}"; do
		# shellcheck disable=SC2046
		kill -KILL $(cgroup_pids "$cg") 2>/dev/null || true
	done
}
