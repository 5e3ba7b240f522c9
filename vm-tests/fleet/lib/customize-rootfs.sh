#!/bin/bash
# mmdebstrap customize hook: turn a fresh Debian tree into a test-host image.
# Runs on the build machine with $1 = the new root. Usage: customize-rootfs.sh ROOT SUITE
set -euo pipefail
root=$1 suite=$2
in_root() { chroot "$root" "$@"; }

# sshd: root by key only, no passwords anywhere; only an ed25519 host key,
# generated per host at `fleet up` (none baked into the image).
mkdir -p "$root/etc/ssh/sshd_config.d"
cat >"$root/etc/ssh/sshd_config.d/10-katafleet.conf" <<'CONF'
# Test-fleet host: key-only logins, host key generated per host.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
CONF
rm -f "$root"/etc/ssh/ssh_host_*

# An unprivileged user with passwordless sudo, as on a typical cloud host.
# Password '*' (no password, but not a "locked" account that sshd might refuse).
in_root useradd --create-home --shell /bin/bash --uid 1000 --user-group kf
in_root usermod -p '*' kf
echo 'kf ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/kf"
chmod 0440 "$root/etc/sudoers.d/kf"
install -d -m 0700 "$root/root/.ssh"
install -d -m 0700 -o 1000 -g 1000 "$root/home/kf/.ssh"

# containerd (and docker on sid) start at boot, as on a real host.
in_root systemctl enable containerd.service
if [[ $suite == sid ]]; then
	in_root systemctl enable docker.service
	# dockerd flags that a nested container needs. A drop-in, not daemon.json:
	# daemon.json belongs to the tool under test. Keep these keys out of it.
	mkdir -p "$root/etc/systemd/system/docker.service.d"
	cat >"$root/etc/systemd/system/docker.service.d/10-katafleet.conf" <<'CONF'
# Test-fleet host: no iptables/forwarding changes (the host is a container),
# and vfs storage (overlay2 cannot sit on the host's overlayfs).
[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --iptables=false --ip6tables=false --ip-forward=false --storage-driver=vfs $DOCKER_OPTS
CONF
	rm -f "$root/etc/docker/daemon.json"
fi

# Units that fail, or only cost time (sshd-keygen: host keys come from `up`), in a container without a console,
# real disks or network beyond the fleet's bridge.
for unit in \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	console-getty.service getty@.service serial-getty@.service \
	systemd-networkd-wait-online.service systemd-timesyncd.service \
	systemd-resolved.service systemd-networkd.service systemd-networkd.socket \
	systemd-firstboot.service systemd-homed.service systemd-userdbd.socket \
	ldconfig.service sshd-keygen.service; do
	ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done

# Per-host files are written into each host's overlay at `fleet up`.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
rm -f "$root/etc/hostname"
# Debian's default; `fleet up` overrides per host.
echo 'nameserver 127.0.0.1' >"$root/etc/resolv.conf"
