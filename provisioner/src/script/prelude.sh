# katafleet prelude: every script sent to a host starts with this. It
# defines the one wire protocol (see src/script/wire.rs): every line the
# controller reads starts with `@@`.
export LC_ALL=C
PATH=/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
have() { command -v "$1" >/dev/null 2>&1; }
kf_oneline() { printf '%s' "$1" | tr '\n' ' '; }

# @@kv KEY VALUE: one value, newlines folded.
kf_kv() { printf '@@kv %s %s\n' "$1" "$(kf_oneline "$2")"; }

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
kf_report() { printf '@@step %s %s %s\n' "$1" "$2" "$(kf_oneline "$3" | cut -c1-3000)"; }
kf_warn() { printf '@@warn %s\n' "$(kf_oneline "$1" | cut -c1-3000)"; }
