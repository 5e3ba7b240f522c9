# katafleet facts probe: one round trip, read-only; runs after the prelude.
# Prints values (`@@kv`) and files (`@@file`). Arguments: more files to read,
# reported as `path:FILE`.

# Fork-free helpers: a command substitution costs a fork even for a builtin.
KF_NL='
'

# kf_found: the first executable $1 on PATH, as `command -v` finds it.
kf_which() {
    kf_found=""
    kf_ifs=$IFS
    IFS=:
    for kf_d in $PATH; do
        if [ -n "$kf_d" ] && [ -f "$kf_d/$1" ] && [ -x "$kf_d/$1" ]; then
            kf_found="$kf_d/$1"
            break
        fi
    done
    IFS=$kf_ifs
}

# kf_found: the names in directory $1 (ending in /) that match the
# patterns after it, relative to $1, separated by spaces.
kf_names() {
    kf_found=""
    kf_in=$1
    shift
    for kf_pat in "$@"; do
        for kf_e in "$kf_in"$kf_pat; do
            [ -e "$kf_e" ] || [ -L "$kf_e" ] || continue
            kf_found="$kf_found${kf_found:+ }${kf_e#"$kf_in"}"
        done
    done
}

# @@kv digest:PATH for each path in $1 (one per line): "missing" for one
# that is not a file, else its sha256, all from one sha256sum. A name
# sha256sum has to escape (a backslash) makes each file be hashed alone.
kf_digests() {
    (
        kf_list=$1
        IFS=$KF_NL
        set -f
        set --
        for f in $kf_list; do
            if [ -f "$f" ]; then set -- "$@" "$f"; else kf_kv "digest:$f" missing; fi
        done
        [ "$#" -gt 0 ] || exit 0
        kf_sums=$(sha256sum -- "$@" 2>/dev/null)
        case $kf_sums in
            \\* | *"$KF_NL\\"*)
                for f in "$@"; do
                    kf_sum=$(sha256sum <"$f" 2>/dev/null)
                    kf_kv "digest:$f" "${kf_sum%% *}"
                done
                ;;
            *)
                for kf_l in $kf_sums; do kf_kv "digest:${kf_l#*  }" "${kf_l%%  *}"; done
                # One it could not read has no line: an empty digest, as before.
                for f in "$@"; do
                    case "$KF_NL$kf_sums$KF_NL" in *"  $f$KF_NL"*) ;; *) kf_kv "digest:$f" "" ;; esac
                done
                ;;
        esac
    )
}

# What cannot change until the host boots again: its machine type, CPU
# flags and what systemd-detect-virt says (two runs of it per probe). With
# KF_CACHED=1 they come from the record a changing script made during this
# boot ($KF_BOOT_RECORD, first line `boot BOOT_ID`); the
# controller hands that script what it read before (KF_KNOWN_BOOT).
KF_BOOT_RECORD=/var/lib/katafleet/boot-facts
read -r kf_boot_id 2>/dev/null </proc/sys/kernel/random/boot_id || kf_boot_id=""

# Whether $1's first line names this boot.
kf_this_boot() {
    [ -n "$kf_boot_id" ] && [ -f "$1" ] && read -r kf_l <"$1" && [ "$kf_l" = "boot $kf_boot_id" ]
}

kf_boot_facts() {
    kf_kv boot_id "$kf_boot_id"
    if [ "${KF_CACHED:-0}" = 1 ] && kf_this_boot "$KF_BOOT_RECORD"; then
        {
            read -r _
            while read -r kf_k kf_v; do
                case $kf_k in
                    machine | cpu_virt | cpu_hypervisor | virt_container | virt_vm) kf_kv "$kf_k" "$kf_v" ;;
                esac
            done
        } <"$KF_BOOT_RECORD"
        kf_kv boot_cached yes
        return 0
    fi
    kf_kv machine "$(uname -m)"
    # Read from the shell, one fork for /proc/cpuinfo and none for the rest.
    kf_flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) "
    kf_virt="" kf_hyp=""
    case $kf_flags in *" vmx "*) kf_virt=vmx ;; *" svm "*) kf_virt=svm ;; esac
    case $kf_flags in *" hypervisor "*) kf_hyp=hypervisor ;; esac
    kf_kv cpu_virt "$kf_virt"
    kf_kv cpu_hypervisor "$kf_hyp"
    if have systemd-detect-virt; then
        kf_kv virt_container "$(systemd-detect-virt -c 2>/dev/null)"
        kf_kv virt_vm "$(systemd-detect-virt -v 2>/dev/null)"
    fi
}

# Stores KF_KNOWN_BOOT when it is this boot's and the record is not; like
# containerd's record, only from a changing script that keeps the state.
kf_record_boot() {
    [ -n "${KF_KNOWN_BOOT:-}" ] && kf_may_record || return 0
    case $KF_KNOWN_BOOT in "boot $kf_boot_id$KF_NL"*) ;; *) return 0 ;; esac
    kf_this_boot "$KF_BOOT_RECORD" && return 0
    kf_new=$(mktemp /var/lib/katafleet/.boot-facts.XXXXXX) || return 0
    if ! { printf '%s\n' "$KF_KNOWN_BOOT" >"$kf_new" && mv -f "$kf_new" "$KF_BOOT_RECORD"; }; then
        rm -f "$kf_new"
    fi
}

echo "@@katafleet-probe 1"
# What no katafleet run changes: not asked again at the end of an apply
# script (KF_AFTER_APPLY=1); the controller keeps it from the facts before.
if [ "${KF_AFTER_APPLY:-0}" != 1 ]; then
    # The effective uid, the second field of Uid: in /proc/self/status.
    kf_uid=""
    while read -r kf_k kf_r kf_e _; do
        [ "$kf_k" = Uid: ] && { kf_uid=$kf_e; break; }
    done 2>/dev/null </proc/self/status
    [ -n "$kf_uid" ] || kf_uid=$(id -u)
    kf_kv uid "$kf_uid"
    read -r kf_kernel 2>/dev/null </proc/sys/kernel/osrelease || kf_kernel=$(uname -r)
    kf_kv kernel "$kf_kernel"
    kf_file os-release /etc/os-release
    kf_boot_facts
    [ -f /.dockerenv ] && kf_kv container_hint docker
    [ -f /run/.containerenv ] && kf_kv container_hint podman
    if [ -c /dev/kvm ]; then
        kf_kv kvm_mode "$(stat -c '%a %U %G' /dev/kvm 2>/dev/null)"
        if (: <>/dev/kvm) 2>/dev/null; then kf_kv kvm_open ok; else kf_kv kvm_open denied; fi
    else
        kf_kv kvm_open missing
    fi
    # MemTotal is the first line.
    read -r kf_k kf_mem _ 2>/dev/null </proc/meminfo || kf_k=""
    [ "$kf_k" = MemTotal: ] || kf_mem=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)
    kf_kv mem_kib "$kf_mem"
    have getenforce && kf_kv selinux "$(getenforce 2>/dev/null)"
else
    kf_record_boot
fi
mods=""
for m in kvm kvm_intel kvm_amd vhost vhost_net vhost_vsock vmw_vsock_vmci_transport; do
    [ -d "/sys/module/$m" ] && mods="$mods $m"
done
kf_kv modules "$mods"
tools=""
for t in tar zstd xz sha256sum base64 head mktemp systemctl modprobe sudo getenforce nixos-rebuild curl wget; do
    have "$t" && tools="$tools $t"
done
kf_kv tools "$tools"
kf_kv kvm_group "$(getent group kvm 2>/dev/null)"
# Only asked for with method = "package": repository metadata can be slow.
have rpm && kf_kv rpm_kata "$(rpm -q --qf '%{VERSION}' kata-containers 2>/dev/null | grep -v 'not installed')"
if [ "${KF_QUERY_DNF:-0}" = 1 ] && have dnf; then
    kf_kv dnf_kata "$(dnf -q repoquery --latest-limit 1 --qf '%{version}' kata-containers 2>/dev/null | head -n1)"
fi

have containerd && kf_containerd_facts
if have dockerd; then
    kf_kv docker_version "${KF_KNOWN_DOCKER:-$(dockerd --version 2>/dev/null)}"
    kf_kv docker_active "$(systemctl is-active docker 2>/dev/null)"
    kf_file docker-daemon-json /etc/docker/daemon.json
fi
[ -d /opt/kata ] && kf_kv kata_dir yes
kf_file kata-marker /opt/kata/.katafleet-release
kf_file manifest /var/lib/katafleet/manifest.json
for f in "$@"; do kf_file "path:$f" "$f"; done
# What is on the host now, for check, status and verify: the Kata tree, the
# Kata tools a shell finds on PATH, digests of the files katafleet owns.
if [ -d /opt/kata ]; then
    kf_kv kata_version_file "$(head -c 64 /opt/kata/VERSION 2>/dev/null)"
    kf_names /opt/kata/bin/ '*'
    kf_kv kata_bin "$kf_found"
    kf_names /opt/kata/runtime-rs/bin/ '*'
    kf_kv kata_rs_bin "$kf_found"
    kf_names /opt/kata/share/defaults/kata-containers/ '*.toml' 'runtime-rs/*.toml' 'config.d/*' 'runtime-rs/config.d/*'
    kf_kv kata_configs "$kf_found"
fi
for t in kata-runtime kata-ctl containerd-shim-kata-v2; do
    kf_which "$t"
    kf_kv "on_path:$t" "$kf_found"
done
if [ -f /var/lib/katafleet/manifest.json ]; then
    # In serde_json's pretty form (src/facts/manifest.rs) each owned path
    # opens its object on a line of its own. The shell reads the few lines
    # for less than a sed costs.
    kf_owned=""
    while IFS= read -r kf_l; do
        case $kf_l in
            '    "/'*'": {') kf_l=${kf_l#'    "'} kf_l=${kf_l%'": {'} ;;
            *) continue ;;
        esac
        case $kf_l in *'"'*) continue ;; esac
        kf_owned="$kf_owned${kf_owned:+$KF_NL}$kf_l"
    done </var/lib/katafleet/manifest.json
    kf_digests "$kf_owned"
    # Uninstall diffs each owned file against the original it puts back.
    if [ "${KF_READ_OWNED:-0}" = 1 ]; then
        printf '%s\n' "$kf_owned" | while IFS= read -r f; do
            [ -n "$f" ] || continue
            kf_file "path:$f" "$f"
            b="/var/lib/katafleet/backup$f"
            if [ -f "$b" ]; then
                kf_sum=$(sha256sum <"$b")
                kf_kv "backup_digest:$f" "${kf_sum%% *}"
                kf_file "backup:$f" "$b"
            fi
        done
    fi
fi
# The release `katafleet rollback` would return to, and what /opt/kata points at.
kf_kv kata_link "$(readlink /opt/kata 2>/dev/null)"
if [ -f /var/lib/katafleet/last-upgrade/tree ]; then
    prev=""
    while read -r kf_k kf_r; do
        [ "$kf_k" = link ] && prev=$kf_r
    done </var/lib/katafleet/last-upgrade/tree
    [ -n "$prev" ] && kf_file previous-release "/opt/$prev/.katafleet-release"
fi
kf_file last-provision /var/lib/katafleet/last-provision
# NixOS (judged in src/plan/nixos.rs): where the running system comes from,
# and an activation an earlier run left pending. With KF_QUERY_NIXOS=1
# (planning only: it evaluates the whole system, seconds to a minute) also
# what <nixos-config> builds now and the Kata package it would use.
if [ -e /etc/NIXOS ]; then
    (
        kf_nixos_env
        kf_kv nixos_nix_path "${NIX_PATH:-}"
        kf_kv nixos_config "$(nix-instantiate --find-file nixos-config 2>/dev/null)"
        kf_kv nixos_current "$(readlink -f /run/current-system 2>/dev/null)"
        kf_kv nixos_boot "$(readlink -f /nix/var/nix/profiles/system 2>/dev/null)"
        [ -e /nix/var/nix/profiles/system/deploy-rs-activate ] && kf_kv nixos_deployer deploy-rs
        kf_file nixos-pending /var/lib/katafleet/txn/nixos
        kf_file nixos-deadline-fired /var/lib/katafleet/nixos-deadline-fired
        if [ "${KF_QUERY_NIXOS:-0}" = 1 ] && [ ! -e /etc/nixos/flake.nix ] \
            && nix-instantiate --find-file nixos-config >/dev/null 2>&1; then
            kf_out=$(mktemp) && kf_err=$(mktemp) || exit 0
            kf_expr='let
  nixos = import <nixpkgs/nixos> { };
  kata = nixos.config.virtualisation.kata-containers.package or (nixos.pkgs.kata-runtime or null);
in {
  toplevel = nixos.system.outPath;
  kata = if kata == null then null else kata.version or (builtins.parseDrvName kata.name).version;
  containerd = nixos.config.virtualisation.containerd.enable or false;
  docker = nixos.config.virtualisation.docker.enable or false;
}'
            timeout 300 nix-instantiate --eval --strict --json -E "$kf_expr" >"$kf_out" 2>"$kf_err"
            kf_rc=$?
            if [ "$kf_rc" -eq 0 ]; then
                kf_file nixos-eval "$kf_out"
            else
                { [ "$kf_rc" -eq 124 ] && echo "nix-instantiate did not finish in 300 s"; tail -n 20 "$kf_err"; } >"$kf_out"
                kf_file nixos-eval-error "$kf_out"
            fi
            rm -f "$kf_out" "$kf_err"
        fi
    )
fi
# A transaction a run left open (it never heard back from its controller).
[ -d /var/lib/katafleet/txn ] && kf_kv txn_open yes
# What katafleet keeps besides its manifest, and its trees in /opt.
if [ -d /var/lib/katafleet ]; then
    kf_names /var/lib/katafleet/ '*' '.[!.]*' '..?*'
    kf_kv state_entries "$kf_found"
fi
kf_names /opt/ kata kata-releases kata.katafleet-orig .kata.new '.katafleet-*'
kf_kv opt_entries "$kf_found"
# Running Kata sandboxes, which only uninstall weighs (a scan of every
# process): processes whose argv[0] is the Kata shim.
if [ "${KF_READ_OWNED:-0}" != 1 ]; then
    :
elif have pgrep; then
    kf_kv kata_shims "$(pgrep -f '^([^ ]*/)?containerd-shim-kata-v2( |$)' 2>/dev/null)"
else
    shims=""
    for p in /proc/[0-9]*; do
        a=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | head -n1)
        [ "${a##*/}" = containerd-shim-kata-v2 ] && shims="$shims ${p#/proc/}"
    done
    kf_kv kata_shims "$shims"
fi
if [ "${KF_READ_OWNED:-0}" = 1 ] && have docker && [ "$(systemctl is-active docker 2>/dev/null)" = active ]; then
    kf_kv docker_runtimes "$(timeout 10 docker info --format '{{json .Runtimes}}' 2>/dev/null)"
fi
echo "@@end-probe"
