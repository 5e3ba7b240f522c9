# katafleet prelude: every script sent to a host starts with this. It
# defines the one wire protocol (see src/script/wire.rs): every line the
# controller reads starts with `@@`.
export LC_ALL=C
# The Go programs the scripts run for one answer each (containerd, ctr,
# dockerd, docker) run on one thread and without a garbage collector: 15 %
# less CPU per call with six hosts busy at once (bench/NOTES.md). Daemons
# systemd starts do not inherit this.
export GOMAXPROCS=1 GOGC=off
PATH=/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
have() { command -v "$1" >/dev/null 2>&1; }
kf_oneline() { printf '%s' "$1" | tr '\n' ' '; }

# @@kv KEY VALUE: one value, newlines folded.
# Most values are one line already: those cost no fork.
kf_kv() {
    case $2 in
        *"
"*) printf '@@kv %s %s\n' "$1" "$(kf_oneline "$2")" ;;
        *) printf '@@kv %s %s\n' "$1" "$2" ;;
    esac
}

# @@file NAME, base64 of the file, @@end; nothing when it is not readable.
kf_file() {
    if [ -f "$2" ] && [ -r "$2" ]; then
        echo "@@file $1"
        base64 <"$2"
        echo "@@end"
    fi
}

# @@block NAME EXIT, base64 of the command's output (at most 256 KiB), @@end.
kf_block() {
    kf_name=$1; shift
    kf_f=$(mktemp) || return 1
    "$@" >"$kf_f" 2>&1
    kf_rc=$?
    echo "@@block $kf_name $kf_rc"
    head -c 262144 "$kf_f" | base64
    echo "@@end"
    rm -f "$kf_f"
    return "$kf_rc"
}

# Apply steps: @@begin N when step N starts, @@step N STATUS MSG when it ends
# (STATUS: changed, ok, warn, failed); @@warn MSG for a problem that does not
# fail the step.
kf_begin() { printf '@@begin %s\n' "$1"; }
kf_report() { kf_said "$3"; printf '@@step %s %s %s\n' "$1" "$2" "$kf_said"; }
kf_warn() { kf_said "$1"; printf '@@warn %s\n' "$kf_said"; }
# $1 as one line of at most 3000 bytes, in $kf_said. Most messages are
# that already, and then it costs no fork: a run reports every step.
kf_said() {
    kf_said=$1
    case $kf_said in
        *"
"*) kf_said=$(kf_oneline "$kf_said" | cut -c1-3000) ;;
        *) [ "${#kf_said}" -le 3000 ] || kf_said=$(printf '%s' "$kf_said" | cut -c1-3000) ;;
    esac
}

# NixOS: the NIX_PATH its login shells get from /etc/set-environment (sudo
# and plain `sh -c` may start without it), so that `<nixpkgs>` and
# `<nixos-config>` resolve as they do for nixos-rebuild. Only NIX_PATH is
# taken over, from a subshell.
kf_nixos_env() {
    [ -z "${NIX_PATH:-}" ] && [ -r /etc/set-environment ] || return 0
    # shellcheck source=/dev/null
    kf_np=$(set +u; . /etc/set-environment >/dev/null 2>&1; printf '%s' "${NIX_PATH:-}")
    if [ -n "$kf_np" ]; then NIX_PATH=$kf_np; export NIX_PATH; fi
}

# The warnings in a Nix evaluation's output ($1): lib.warn's `trace:
# warning:` and Nix's own `warning:`/`evaluation warning:`, each with its
# continuation lines, colour codes removed; one per line, each once.
kf_nix_warnings() {
    kf_esc=$(printf '\033')
    sed "s/$kf_esc\[[0-9;]*m//g" "$1" 2>/dev/null | awk '
        /^(trace: )?(evaluation )?warning: / {
            if (w != "") print w
            w = $0; sub(/^(trace: )?(evaluation )?warning: /, "", w); next
        }
        w != "" && ($0 ~ /^[ \t]*$/ || $0 ~ /^(trace|error|building|these|copying|activating):? /) { print w; w = ""; next }
        w != "" { w = w " " $0 }
        END { if (w != "") print w }' | sed 's/[[:space:]][[:space:]]*/ /g; s/ $//' | awk '!seen[$0]++'
}
