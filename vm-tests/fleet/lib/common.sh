# shellcheck shell=bash
# Shared constants and helpers for the test fleet harness. Sourced by ../fleet.

KF_CACHE=${KATAFLEET_CACHE:-/var/cache/katafleet}
# Per-fleet state (keys, known_hosts, pids, logs): small, lives in /run.
KF_RUN=/run/katafleet-fleet
# Per-fleet overlay upper/work dirs: can grow (images, packages), so not in /run.
KF_WORK=${KATAFLEET_FLEET_WORK:-/var/lib/katafleet-fleet}
KF_MIRROR=${KATAFLEET_MIRROR:-http://deb.debian.org/debian}
KF_SUITES="bookworm trixie sid"
KF_MAX_HOSTS=250
# Every fleet has its own hub netns and bridge, so every fleet reuses this subnet.
KF_HUB_IP=10.250.0.1
KF_PREFIX=16
KF_INOTIFY_INSTANCES=8192

log() { printf 'fleet: %s\n' "$*" >&2; }
die() { printf 'fleet: error: %s\n' "$*" >&2; exit 1; }

now_ms() { local t; t=$(cat /proc/uptime); t=${t%% *}; echo $(( ${t%.*} * 1000 + 10#${t#*.} * 10 )); }

validate_name() {
	[[ ${1:-} =~ ^[a-z][a-z0-9]{0,5}$ ]] ||
		die "bad fleet name '${1:-}': 1-6 chars, [a-z][a-z0-9]* (it goes into netns and interface names)"
}

validate_suite() {
	local s
	for s in $KF_SUITES; do [[ $1 == "$s" ]] && return 0; done
	die "unknown suite '$1' (supported: $KF_SUITES)"
}

rootfs_dir() { echo "$KF_CACHE/rootfs-$1"; }
state_dir() { echo "$KF_RUN/$1"; }
work_dir() { echo "$KF_WORK/$1"; }
hub_ns() { echo "kfh-$1"; }
host_ns() { echo "kf-$1-$2"; }
host_name() { echo "$1-$2"; }
host_ip() { echo "10.250.1.$1"; }
# Fixed, locally administered MACs: 02:6b:66 ("kf"), then role and index.
host_mac() { printf '02:6b:66:00:%02x:%02x\n' $(($1 / 256)) $(($1 % 256)); }
port_mac() { printf '02:6b:66:01:%02x:%02x\n' $(($1 / 256)) $(($1 % 256)); }
BRIDGE_MAC=02:6b:66:ff:00:01

# Cgroup roots for a fleet's machines. This machine has a hybrid layout
# (name=systemd v1 + cgroup2 at /unified); a pure cgroup2 host has one root.
cgroup_roots() {
	if [[ -d /sys/fs/cgroup/systemd && -e /sys/fs/cgroup/unified/cgroup.procs ]]; then
		echo "/sys/fs/cgroup/systemd/katafleet/$1 /sys/fs/cgroup/unified/katafleet/$1"
	elif [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
		echo "/sys/fs/cgroup/katafleet/$1"
	else
		die "unsupported cgroup layout under /sys/fs/cgroup"
	fi
}

# Remove a cgroup subtree depth-first (machines leave init.scope etc. behind).
cgroup_rmtree() {
	[[ -d $1 ]] || return 0
	find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
	[[ ! -d $1 ]]
}

# All pids in a cgroup subtree.
cgroup_pids() {
	[[ -d $1 ]] || return 0
	find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

# Alive and not a zombie (PID 1 here reaps orphans slowly).
pid_alive() {
	local st
	[[ -n ${1:-} && -r /proc/$1/stat ]] || return 1
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $st != Z && $st != X ]]
}

# pid_is PID WORD: the process's command line contains WORD (guards against pid reuse).
pid_is() {
	pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

# Global lock for the few machine-wide things (inotify sysctl bookkeeping).
with_global_lock() {
	mkdir -p "$KF_RUN"
	(
		flock 9
		"$@"
	) 9>"$KF_RUN/.lock"
}

require_fleet() {
	local st
	st=$(state_dir "$1")
	[[ -f $st/hub ]] || die "fleet '$1' is not up (no $st/hub)"
}
