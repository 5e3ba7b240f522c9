# shellcheck shell=bash
# fleet rootfs [SUITE]: build the cached base root filesystem once.

rootfs_packages() {
	local pkgs=systemd,systemd-sysv,dbus,openssh-server,containerd,runc,iproute2,procps,kmod,ca-certificates,zstd,xz-utils,sudo,tar,coreutils
	case $1 in
	sid) pkgs+=,docker.io,docker-cli ;;
	esac
	echo "$pkgs"
}

# Bump when the package list or customize-rootfs.sh changes: caches built by
# an older harness are then rebuilt (when no fleet is using them).
KF_ROOTFS_VERSION=2
KF_ROOTFS_STAMP=etc/katafleet-rootfs-version

rootfs_current() { [[ $(cat "$1/$KF_ROOTFS_STAMP" 2>/dev/null) == "$KF_ROOTFS_VERSION" ]]; }

cmd_rootfs() {
	local suite=${1:-bookworm}
	validate_suite "$suite"
	local dest
	dest=$(rootfs_dir "$suite")
	[[ -d $dest ]] && rootfs_current "$dest" && { echo "$dest"; return 0; }
	mkdir -p "$KF_CACHE"
	# Serialise concurrent builders of the same suite (parallel tests).
	(
		flock 9
		if [[ -d $dest ]]; then
			rootfs_current "$dest" && exit 0
			if rootfs_in_use "$suite"; then
				log "warning: $dest is from an older harness but fleets use it; not rebuilding"
				exit 0
			fi
			log "$dest is from an older harness; rebuilding"
		fi
		rootfs_build "$suite" "$dest"
	) 9>"$KF_CACHE/.rootfs-$suite.lock"
	[[ -d $dest ]] || die "rootfs build for $suite failed"
	echo "$dest"
}

# Is any fleet (state dir present) built on SUITE?
rootfs_in_use() {
	local f
	for f in "$KF_RUN"/*/suite; do
		[[ -f $f && $(cat "$f") == "$1" ]] && return 0
	done
	return 1
}

rootfs_build() {
	local suite=$1 dest=$2 tmp t0
	# Remove what an interrupted build left; we hold the lock.
	rm -rf "$KF_CACHE/.rootfs-$suite.tmp."*
	tmp="$KF_CACHE/.rootfs-$suite.tmp.$$"
	t0=$(now_ms)
	log "building $suite rootfs in $tmp (takes a minute or so)"
	local -a opts=(
		--mode=root --variant=minbase --format=directory
		--include="$(rootfs_packages "$suite")"
		--aptopt='Acquire::Retries "3"'
		--dpkgopt='path-exclude=/usr/share/man/*'
		--dpkgopt='path-exclude=/usr/share/doc/*'
		--dpkgopt='path-include=/usr/share/doc/*/copyright'
		--dpkgopt='path-exclude=/usr/share/locale/*'
		--customize-hook="$KF_LIB/customize-rootfs.sh \"\$1\" $suite"
	)
	# sid's index can be past its Valid-Until against this machine's clock.
	[[ $suite == sid ]] && opts+=(--aptopt='Acquire::Check-Valid-Until "false"')
	if ! mmdebstrap "${opts[@]}" "$suite" "$tmp" "$KF_MIRROR" >"$KF_CACHE/.rootfs-$suite.log" 2>&1; then
		tail -n 30 "$KF_CACHE/.rootfs-$suite.log" >&2
		rm -rf "$tmp"
		die "mmdebstrap $suite failed (full log: $KF_CACHE/.rootfs-$suite.log)"
	fi
	echo "$KF_ROOTFS_VERSION" >"$tmp/$KF_ROOTFS_STAMP"
	if [[ -d $dest ]]; then
		mv -T "$dest" "$tmp.old"
		rm -rf "$tmp.old"
	fi
	mv -T "$tmp" "$dest"
	log "built $dest in $(( ($(now_ms) - t0) / 1000 ))s ($(du -sh "$dest" | cut -f1))"
}
