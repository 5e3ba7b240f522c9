# katafleet facts probe: one round trip, read-only. Prints `key=value` lines
# and base64 file blocks (`@@file NAME` ... `@@end`). Arguments: more files
# to read, reported as `path:FILE`.
export LC_ALL=C
PATH=/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

kv() { printf '%s=%s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
file_block() {
    if [ -f "$2" ] && [ -r "$2" ]; then
        echo "@@file $1"
        base64 <"$2"
        echo "@@end"
    fi
}
have() { command -v "$1" >/dev/null 2>&1; }

echo "@@katafleet-probe 1"
kv uid "$(id -u)"
kv machine "$(uname -m)"
kv kernel "$(uname -r)"
file_block os-release /etc/os-release
kv cpu_virt "$(grep -m1 -owE 'vmx|svm' /proc/cpuinfo 2>/dev/null)"
kv cpu_hypervisor "$(grep -m1 -ow hypervisor /proc/cpuinfo 2>/dev/null)"
if have systemd-detect-virt; then
    kv virt_container "$(systemd-detect-virt -c 2>/dev/null)"
    kv virt_vm "$(systemd-detect-virt -v 2>/dev/null)"
fi
[ -f /.dockerenv ] && kv container_hint docker
[ -f /run/.containerenv ] && kv container_hint podman
if [ -c /dev/kvm ]; then
    kv kvm_mode "$(stat -c '%a %U %G' /dev/kvm 2>/dev/null)"
    if (: <>/dev/kvm) 2>/dev/null; then kv kvm_open ok; else kv kvm_open denied; fi
else
    kv kvm_open missing
fi
kv mem_kib "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
mods=""
for m in kvm kvm_intel kvm_amd vhost vhost_net vhost_vsock vmw_vsock_vmci_transport; do
    [ -d "/sys/module/$m" ] && mods="$mods $m"
done
kv modules "$mods"
[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && kv systemd "$(systemctl --version 2>/dev/null | head -n1)"
tools=""
for t in tar zstd xz sha256sum base64 head mktemp systemctl modprobe sudo getenforce nixos-rebuild; do
    have "$t" && tools="$tools $t"
done
kv tools "$tools"
have getenforce && kv selinux "$(getenforce 2>/dev/null)"

if have containerd; then
    kv containerd_version "$(containerd --version 2>/dev/null)"
    kv containerd_active "$(systemctl is-active containerd 2>/dev/null)"
    file_block containerd-config /etc/containerd/config.toml
    dump=$(mktemp)
    if containerd config dump >"$dump" 2>/dev/null; then file_block containerd-dump "$dump"; fi
    rm -f "$dump"
fi
if have dockerd; then
    kv docker_version "$(dockerd --version 2>/dev/null)"
    kv docker_active "$(systemctl is-active docker 2>/dev/null)"
    file_block docker-daemon-json /etc/docker/daemon.json
fi
[ -d /opt/kata ] && kv kata_dir yes
file_block kata-marker /opt/kata/.katafleet-release
file_block manifest /var/lib/katafleet/manifest.json
for f in "$@"; do file_block "path:$f" "$f"; done
echo "@@end-probe"
