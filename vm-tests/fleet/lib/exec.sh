# shellcheck shell=bash
# fleet run NAME -- CMD... | fleet sh NAME I [-- CMD...]

cmd_run() {
	local name=${1:-}
	[[ $# -ge 1 ]] || die "usage: fleet run NAME -- CMD..."
	shift
	[[ ${1:-} == -- ]] && shift
	[[ $# -ge 1 ]] || die "usage: fleet run NAME -- CMD..."
	validate_name "$name"
	require_fleet "$name"
	local st
	st=$(state_dir "$name")
	exec ip netns exec "$(cat "$st/hub")" env KATAFLEET_FLEET="$name" KATAFLEET_FLEET_DIR="$st" "$@"
}

# The host's PID 1 (its systemd): the child of its systemd-nspawn.
host_leader() {
	local name=$1 i=$2 st nspawn kids
	st=$(state_dir "$name")
	nspawn=$(cat "$st/pids/$(host_name "$name" "$i")" 2>/dev/null) || return 1
	pid_is "$nspawn" systemd-nspawn || return 1
	kids=$(cat "/proc/$nspawn/task/$nspawn/children" 2>/dev/null) || return 1
	kids=${kids%% *}
	[[ -n $kids ]] && pid_alive "$kids" && echo "$kids"
}

# Runs in all of the host's namespaces (not over SSH, so it works while the
# host's sshd is stopped), as root, with a clean environment.
cmd_sh() {
	local name=${1:-} i=${2:-}
	[[ $# -ge 2 ]] || die "usage: fleet sh NAME I [-- CMD...]"
	shift 2
	[[ ${1:-} == -- ]] && shift
	validate_name "$name"
	require_fleet "$name"
	[[ $i =~ ^[1-9][0-9]*$ ]] || die "bad host index '$i'"
	local leader
	leader=$(host_leader "$name" "$i") || die "host $(host_name "$name" "$i") is not running"
	[[ $# -ge 1 ]] || set -- bash -l
	exec nsenter --target "$leader" --all --root --wd -- /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 ${TERM:+TERM="$TERM"} "$@"
}
