# shellcheck shell=bash
# fleet down NAME | down-all | list

cmd_down() {
	[[ $# -eq 1 ]] || die "usage: fleet down NAME"
	validate_name "$1"
	teardown "$1"
}

# Stop a fleet and remove all it made. Safe to repeat, and after a failed `up`.
teardown() {
	local name=$1 st t0
	st=$(state_dir "$name")
	t0=$(now_ms)
	local existed=0
	[[ -d $st ]] && existed=1
	stop_supervisor "$name"
	teardown_resources "$name"
	rm -rf "$st"
	with_global_lock last_fleet_cleanup
	((existed)) && log "fleet $name down in $(( ($(now_ms) - t0) / 1000 ))s"
	return 0
}

# SIGTERM to the supervisor, which SIGTERMs every systemd-nspawn (a clean
# shutdown takes ~0.2 s; SIGKILL would orphan the machine's systemd).
stop_supervisor() {
	local name=$1 st sup n
	st=$(state_dir "$name")
	sup=$(cat "$st/supervisor.pid" 2>/dev/null) || return 0
	pid_is "$sup" "__supervise $name " || return 0
	kill -TERM "$sup" 2>/dev/null || true
	for ((n = 0; n < 450; n++)); do
		pid_alive "$sup" || return 0
		sleep 0.1
	done
	log "supervisor $sup of '$name' did not stop in 45s; killing it"
	kill -KILL "$sup" 2>/dev/null || true
}

# Everything except the state dir: machines, cgroups, mounts, netns, overlays.
teardown_resources() {
	local name=$1 st wd p n cg
	st=$(state_dir "$name")
	wd=$(work_dir "$name")
	# Machines whose supervisor is gone (killed): stop them directly.
	local -a left=()
	for p in "$st"/pids/*; do
		[[ -f $p ]] || continue
		p=$(cat "$p")
		pid_is "$p" systemd-nspawn && left+=("$p")
	done
	if ((${#left[@]})); then
		kill -TERM "${left[@]}" 2>/dev/null || true
		for ((n = 0; n < 100; n++)); do
			local alive=0
			for p in "${left[@]}"; do pid_alive "$p" && alive=1; done
			((alive)) || break
			sleep 0.1
		done
	fi
	# Anything still in the fleet's cgroups (orphaned machine processes).
	for cg in $(cgroup_roots "$name"); do
		[[ -d $cg ]] || continue
		for ((n = 0; n < 50; n++)); do
			local pids
			pids=$(cgroup_pids "$cg")
			[[ -n $pids ]] || break
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			sleep 0.1
		done
		cgroup_rmtree "$cg" || log "could not remove cgroup $cg"
	done
	# Overlays live in the supervisor's mount namespace; unmount any that leaked.
	local -a mnts
	mapfile -t mnts < <(awk -v d="$wd/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	for p in "${mnts[@]}"; do umount "$p" 2>/dev/null || umount -l "$p" || true; done
	# Network namespaces (their veths and the bridge go with them).
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		if [[ $ns == "$(hub_ns "$name")" || $ns =~ ^kf-$name-[0-9]+$ ]]; then
			ip netns delete "$ns" 2>/dev/null || log "could not delete netns $ns"
		fi
	done
	rm -rf "$wd"
}

# When no fleet is left: restore the inotify limit and drop the parent cgroups.
last_fleet_cleanup() {
	local saved=$KF_RUN/.inotify-max-user-instances d
	for d in "$KF_RUN"/*/; do [[ -d $d ]] && return 0; done
	if [[ -f $saved ]]; then
		cat "$saved" >/proc/sys/fs/inotify/max_user_instances
		rm -f "$saved"
	fi
	for d in $(cgroup_roots x); do rmdir "${d%/x}" 2>/dev/null || true; done
}

# Names of all fleets: state dirs, plus leftovers (hub netns, work dirs).
all_fleets() {
	{
		local d
		for d in "$KF_RUN"/*/ "$KF_WORK"/*/; do [[ -d $d ]] && basename "$d"; done
		ip netns list 2>/dev/null | awk '$1 ~ /^kfh-/ { sub(/^kfh-/, "", $1); print $1 }'
	} | grep -E '^[a-z][a-z0-9]{0,5}$' | sort -u || true
}

cmd_down_all() {
	local n
	for n in $(all_fleets); do teardown "$n"; done
}

cmd_list() {
	local d n state sup
	for d in "$KF_RUN"/*/; do
		[[ -d $d ]] || continue
		n=$(basename "$d")
		sup=$(cat "$d/supervisor.pid" 2>/dev/null || true)
		if pid_is "$sup" "__supervise $n "; then state=running; else state=stopped; fi
		printf '%s\t%s\t%s\t%s\n' "$n" "$(cat "$d/suite" 2>/dev/null || echo '?')" \
			"$(cat "$d/count" 2>/dev/null || echo '?')" "$state"
	done
}
