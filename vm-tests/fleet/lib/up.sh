# shellcheck shell=bash
# fleet up NAME COUNT [--suite SUITE] [--bind SRC[:DST]] [--bind-ro SRC[:DST]]

cmd_up() {
	local name=${1:-} count=${2:-} suite=bookworm
	[[ $# -ge 2 ]] || die "usage: fleet up NAME COUNT [--suite SUITE] [--bind SRC[:DST]] [--bind-ro SRC[:DST]]"
	shift 2
	local -a binds=()
	while [[ $# -gt 0 ]]; do
		case $1 in
		--suite) suite=${2:?--suite needs a value}; shift 2 ;;
		--suite=*) suite=${1#*=}; shift ;;
		--bind | --bind-ro) binds+=("$1=${2:?$1 needs a value}"); shift 2 ;;
		--bind=* | --bind-ro=*) binds+=("$1"); shift ;;
		*) die "up: unknown option '$1'" ;;
		esac
	done
	validate_name "$name"
	local b src
	for b in "${binds[@]}"; do
		src=${b#*=}
		src=${src%%:*}
		[[ $src == /* && -e $src ]] || die "bind source '$src' must be an existing absolute path"
	done
	if ! [[ $count =~ ^[1-9][0-9]*$ ]] || ((count > KF_MAX_HOSTS)); then
		die "COUNT must be 1..$KF_MAX_HOSTS"
	fi
	validate_suite "$suite"

	local rootfs st wd t0
	rootfs=$(cmd_rootfs "$suite")
	st=$(state_dir "$name")
	wd=$(work_dir "$name")
	mkdir -p "$KF_RUN"
	# Claiming the state dir is the lock against a second `up` of the same NAME.
	mkdir "$st" 2>/dev/null || die "fleet '$name' exists ($st); run: fleet down $name"
	UP_NAME=$name UP_OK=0
	trap up_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	t0=$(now_ms)
	# Whatever a crashed earlier fleet of this name left (netns, overlays, cgroups).
	teardown_resources "$name"

	echo "$suite" >"$st/suite"
	echo "$count" >"$st/count"
	echo "$wd" >"$st/workdir"
	hub_ns "$name" >"$st/hub"
	printf '%s\n' "${binds[@]}" >"$st/binds"
	mkdir -p "$st/pids" "$st/logs" "$st/exited" "$wd"
	with_global_lock inotify_raise

	up_keys "$name" "$st" "$count"
	up_network "$name" "$count"
	up_overlays "$name" "$st" "$wd" "$rootfs" "$count"

	# The supervisor owns the machines (they are its children, reaped at once)
	# and runs in a private mount namespace, so overlays vanish with it.
	setsid unshare --mount --propagation slave -- \
		"$KF_SELF" __supervise "$name" </dev/null >>"$st/supervisor.log" 2>&1 &
	echo $! >"$st/supervisor.pid"

	local timeout=${KATAFLEET_FLEET_TIMEOUT:-$((60 + 2 * count))}
	# In the background, so that a signal to `up` interrupts the wait at once.
	ip netns exec "$(hub_ns "$name")" "$KF_SELF" __wait-ssh "$name" "$timeout" &
	UP_WAITER=$!
	if ! wait "$UP_WAITER"; then
		die "fleet '$name' did not come up within ${timeout}s; tearing it down"
	fi
	UP_OK=1
	local ms=$(($(now_ms) - t0))
	printf 'fleet: %s: %d %s host(s) up in %d.%02ds\n' "$name" "$count" "$suite" $((ms / 1000)) $((ms % 1000 / 10)) >&2
	echo "$st"
}

up_cleanup() {
	local rc=$?
	((UP_OK)) && return 0
	[[ -n ${UP_WAITER:-} ]] && { kill "$UP_WAITER" 2>/dev/null || true; }
	log "up of '$UP_NAME' failed; cleaning up"
	teardown "$UP_NAME" || true
	exit $((rc ? rc : 1))
}

inotify_raise() {
	local cur saved=$KF_RUN/.inotify-max-user-instances
	cur=$(cat /proc/sys/fs/inotify/max_user_instances)
	[[ -f $saved ]] || echo "$cur" >"$saved"
	((cur >= KF_INOTIFY_INSTANCES)) || echo "$KF_INOTIFY_INSTANCES" >/proc/sys/fs/inotify/max_user_instances
}

# Client key for root and kf on every host; one ed25519 host key per host.
up_keys() {
	local name=$1 st=$2 count=$3 i
	ssh-keygen -q -t ed25519 -N '' -C "katafleet-fleet-$name" -f "$st/id_ed25519"
	mkdir -p "$st/hostkeys"
	: >"$st/known_hosts" && : >"$st/hosts"
	{
		echo "# fleet $name: ssh -F $st/ssh_config $name-1"
		for ((i = 1; i <= count; i++)); do
			printf 'Host %s %s\n  HostName %s\n' "$(host_name "$name" "$i")" "$(host_ip "$i")" "$(host_ip "$i")"
		done
		printf 'Host *\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n' "$st/id_ed25519"
		printf '  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n' "$st/known_hosts"
	} >"$st/ssh_config"
	for ((i = 1; i <= count; i++)); do
		local k
		k=$st/hostkeys/$(host_name "$name" "$i")
		ssh-keygen -q -t ed25519 -N '' -C "root@$(host_name "$name" "$i")" -f "$k"
		local -a pub
		read -ra pub <"$k.pub"
		echo "$(host_ip "$i") ${pub[0]} ${pub[1]}" >>"$st/known_hosts"
		echo "$(host_name "$name" "$i") $(host_ip "$i")" >>"$st/hosts"
	done
}

# Hub netns with bridge br0 (10.250.0.1/16); host i: netns kf-NAME-i whose eth0
# (fixed MAC, 10.250.1.i/16) is a veth to port hI on br0. No route leaves the
# hub: it answers "unreachable" for anything outside the fleet's subnet.
up_network() {
	local name=$1 count=$2 hub i
	hub=$(hub_ns "$name")
	{
		echo "netns add $hub"
		for ((i = 1; i <= count; i++)); do echo "netns add $(host_ns "$name" "$i")"; done
	} | ip -b -
	{
		echo "link set lo up"
		echo "link add br0 address $BRIDGE_MAC type bridge stp_state 0 forward_delay 0"
		echo "addr add $KF_HUB_IP/$KF_PREFIX dev br0"
		echo "link set br0 up"
		for ((i = 1; i <= count; i++)); do
			echo "link add h$i address $(port_mac "$i") type veth peer name eth0 address $(host_mac "$i") netns $(host_ns "$name" "$i")"
			echo "link set h$i master br0 up"
		done
		echo "route add unreachable default"
	} | ip -n "$hub" -b -
	ip netns exec "$hub" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.disable_ipv6=1
	for ((i = 1; i <= count; i++)); do
		printf '%s\n' "link set lo up" "addr add $(host_ip "$i")/$KF_PREFIX dev eth0" \
			"link set eth0 up" "route add default via $KF_HUB_IP" |
			ip -n "$(host_ns "$name" "$i")" -b -
	done
}

# Per-host overlay upper dirs, pre-filled with the host's own files. A shared
# template carries the directories (with the rootfs's owners and modes, which
# overlayfs takes from the upper dir) and the files every host has.
up_overlays() {
	local name=$1 st=$2 wd=$3 rootfs=$4 count=$5 i d
	local tpl=$wd/template
	mkdir -p "$tpl"
	for d in etc etc/ssh root root/.ssh home home/kf home/kf/.ssh; do
		mkdir "$tpl/$d"
		chown --reference="$rootfs/$d" "$tpl/$d"
		chmod --reference="$rootfs/$d" "$tpl/$d"
	done
	install -m 0600 "$st/id_ed25519.pub" "$tpl/root/.ssh/authorized_keys"
	install -m 0600 -o "$(stat -c %u "$rootfs/home/kf")" -g "$(stat -c %g "$rootfs/home/kf")" \
		"$st/id_ed25519.pub" "$tpl/home/kf/.ssh/authorized_keys"
	# DNS goes to the hub, which refuses at once: no lookups leave the fleet.
	echo "nameserver $KF_HUB_IP" >"$tpl/etc/resolv.conf"
	{
		printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'
		printf '%s\thub\n' "$KF_HUB_IP"
		while read -r h ip; do printf '%s\t%s\n' "$ip" "$h"; done <"$st/hosts"
	} >"$tpl/etc/hosts"
	chmod 0644 "$tpl/etc/resolv.conf" "$tpl/etc/hosts"
	for ((i = 1; i <= count; i++)); do
		local h up uuid
		h=$(host_name "$name" "$i")
		up=$wd/$h/upper
		mkdir -p "$wd/$h/work" "$wd/$h/root"
		cp -a "$tpl" "$up"
		echo "$h" >"$up/etc/hostname"
		uuid=$(</proc/sys/kernel/random/uuid)
		echo "${uuid//-/}" >"$up/etc/machine-id"
		install -m 0600 "$st/hostkeys/$h" "$up/etc/ssh/ssh_host_ed25519_key"
		install -m 0644 "$st/hostkeys/$h.pub" "$up/etc/ssh/ssh_host_ed25519_key.pub"
	done
}

# Runs inside the hub netns: wait until every host accepts root's key over SSH
# with strict host-key checking. Usage: __wait-ssh NAME TIMEOUT_SECONDS
wait_ssh_in_hub() {
	local name=$1 timeout=$2 st deadline sup i
	st=$(state_dir "$name")
	deadline=$(($(now_ms) + timeout * 1000))
	sup=$(cat "$st/supervisor.pid")
	# KATAFLEET_FLEET_WAIT=ssh: return as soon as sshd answers (boot may go on).
	local probe_cmd='systemctl is-system-running --wait; true'
	[[ ${KATAFLEET_FLEET_WAIT:-boot} == ssh ]] && probe_cmd='echo running'
	local -a pending next ready
	mapfile -t pending < <(seq 1 "$(cat "$st/count")")
	local -a ssh_opts=(-i "$st/id_ed25519" -o IdentitiesOnly=yes -o UserKnownHostsFile="$st/known_hosts"
		-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR)
	while ((${#pending[@]})); do
		if (($(now_ms) > deadline)); then
			wait_ssh_report "$name" "${pending[@]}"
			return 1
		fi
		pid_alive "$sup" || { log "supervisor of '$name' died; see $st/supervisor.log"; return 1; }
		next=() ready=()
		for i in "${pending[@]}"; do
			if [[ -e $st/exited/$(host_name "$name" "$i") ]]; then
				wait_ssh_report "$name" "$i"
				return 1
			fi
			# Cheap probe first: is sshd listening yet?
			if (exec 3<>"/dev/tcp/$(host_ip "$i")/22") 2>/dev/null; then ready+=("$i"); else next+=("$i"); fi
		done
		local -A probe=()
		for i in "${ready[@]}"; do
			# Also wait for the host's boot to finish, so that tests see
			# containerd & co. started, not "activating".
			timeout 20 ssh "${ssh_opts[@]}" "root@$(host_ip "$i")" "$probe_cmd" </dev/null \
				>"$st/logs/$(host_name "$name" "$i").state" 2>/dev/null &
			probe[$!]=$i
		done
		local p h state
		for p in "${!probe[@]}"; do
			i=${probe[$p]}
			if ! wait "$p"; then
				next+=("$i")
				continue
			fi
			h=$(host_name "$name" "$i")
			state=$(<"$st/logs/$h.state")
			[[ $state == running ]] ||
				log "warning: $h booted '$state'; see: fleet sh $name $i -- systemctl --failed"
		done
		unset probe
		pending=("${next[@]}")
		((${#pending[@]})) && sleep 0.3
	done
	return 0
}

wait_ssh_report() {
	local name=$1 st i h shown=0
	shift
	st=$(state_dir "$name")
	log "hosts not answering SSH: $(for i in "$@"; do printf '%s ' "$(host_name "$name" "$i")"; done)"
	for i in "$@"; do
		h=$(host_name "$name" "$i")
		[[ -e $st/exited/$h ]] && log "$h: its systemd-nspawn exited with status $(cat "$st/exited/$h")"
		((shown++ < 3)) || continue
		log "$h ($(host_ip "$i")): last lines of its console ($st/logs/$h.log):"
		tail -n 12 "$st/logs/$h.log" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/^/    /' >&2 || true
	done
}
