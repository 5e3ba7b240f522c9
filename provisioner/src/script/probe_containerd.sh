# katafleet facts probe, containerd's part: kf_containerd_facts, which
# probe.sh calls. Its Go binaries (`containerd --version`, `ctr plugins ls`,
# `containerd config dump`) are most of the probe's cost, so their answers
# are reused where nothing they depend on can have changed:
# - at the end of an apply script ($KF_RUN set): the versions the
#   controller knows from before (KF_KNOWN_CONTAINERD, when no package was
#   installed) and what the restart's health check saw ($KF_RUN/seen-*);
# - with KF_CACHED=1 (planning), what the last changing script recorded in
#   $KF_PROBE_CACHE, while its key still matches: the binary, each running
#   containerd's PID and start time, and every file and directory `config dump`
#   reads (config.toml, the directories of its import patterns, the imports
#   the dump resolved). The record also keeps the daemon's --config and the
#   import patterns, so that a hit runs only `pidof` and one `stat`. Only a
#   changing script, holding the host lock, writes that record, and
#   uninstall removes it with the rest.

KF_PROBE_CACHE=/var/lib/katafleet/probe-cache

kf_seen() { [ -n "${KF_RUN:-}" ] && [ -f "$KF_RUN/seen-$1" ]; }

# Whether this script may record answers for the next run's probe: only a
# changing script (it holds the host lock), and not an uninstall's, which
# takes /var/lib/katafleet away.
kf_may_record() {
    [ -n "${KF_RUN:-}" ] && [ -f /var/lib/katafleet/manifest.json ] &&
        [ ! -e "${KF_TXN:-/var/lib/katafleet/txn}/forget" ]
}

# kf_st: the start time of process $1 (clock ticks since boot), read by the
# shell: with its PID it names one process, which a restart replaces.
kf_started() {
    kf_st=""
    read -r kf_st 2>/dev/null <"/proc/$1/stat" || return 0
    # The fields after the command name, which may hold spaces itself.
    case $- in *f*) kf_glob=off ;; *) kf_glob=on ;; esac
    set -f
    # shellcheck disable=SC2086 # split into fields on purpose
    set -- ${kf_st##*) }
    [ "$kf_glob" = off ] || set +f
    shift 19
    kf_st=$1
}

# kf_procs: each PID in $1 with its start time.
kf_containerd_procs() {
    kf_procs=""
    for kf_p in $1; do
        kf_started "$kf_p"
        kf_procs="$kf_procs $kf_p@$kf_st"
    done
}

# kf_imports: the import patterns in config file $1 and dump $2.
kf_containerd_imports() {
    kf_imports=$(sed -n 's/^ *imports *= *\[\(.*\)\]/\1/p' "$1" "$2" 2>/dev/null | tr -d "\"',")
}

# kf_key: what containerd's answers depend on, for the daemon's --config $1
# (empty: the default file), the processes kf_procs and the import
# patterns kf_imports.
kf_containerd_key() {
    kf_conf=${1:-/etc/containerd/config.toml}
    kf_which containerd # sets kf_found (probe.sh)
    # shellcheck disable=SC2154
    kf_bin=$kf_found
    kf_dirs=""
    # Unquoted on purpose: a pattern expands to the files it matches now.
    for kf_i in $kf_imports; do kf_dirs="$kf_dirs ${kf_i%/*}"; done
    # shellcheck disable=SC2086 # word lists, split and expanded on purpose
    # A path missing is part of the key (stat says so), not a failure.
    kf_key="binary $kf_bin config $kf_conf processes${kf_procs:- none}
$(stat -L -c '%n %i %s %y %z' "$kf_bin" "$kf_conf" /etc/containerd /etc/containerd/conf.d $kf_imports $kf_dirs 2>&1)"
    return 0
}

# kf_text: file $1's lines, read by the shell (for small files only).
kf_read() {
    kf_text=""
    [ -f "$1" ] || return 1
    while IFS= read -r kf_l || [ -n "$kf_l" ]; do
        kf_text="$kf_text${kf_text:+$KF_NL}$kf_l"
    done <"$1"
}

# Whether the record's key still holds. Until a key says otherwise, the
# record's --config (while the same processes run) and import patterns
# stand in for reading them again: the key covers both.
kf_cache_holds() {
    [ "${KF_CACHED:-0}" = 1 ] && [ -z "${KF_RUN:-}" ] && kf_read "$KF_PROBE_CACHE/key" || return 1
    kf_want=$kf_text
    kf_read "$KF_PROBE_CACHE/config" && [ "${kf_text%%"$KF_NL"*}" = "procs$kf_procs" ] || return 1
    case $kf_text in *"$KF_NL"*) cfg=${kf_text#*"$KF_NL"} ;; *) cfg="" ;; esac
    kf_read "$KF_PROBE_CACHE/imports" || return 1
    kf_imports=$kf_text
    kf_containerd_key "$cfg"
    [ "$kf_key" = "$kf_want" ]
}

# The --config the running daemon $1 was started with (NixOS passes a
# store path), in cfg.
kf_containerd_config() {
    cfg=""
    if [ -n "$1" ] && [ -r "/proc/$1/cmdline" ]; then
        cfg=$(tr '\0' '\n' <"/proc/$1/cmdline" | sed -n -e '/^--config$/{n;p;q;}' -e '/^-c$/{n;p;q;}' -e '/^--config=/{s///p;q;}')
    fi
}

# Prints containerd's facts: version, state, CRI plugin, config and dump.
kf_containerd_facts() {
    pids=$(pidof containerd 2>/dev/null)
    kf_containerd_procs "$pids"
    kf_hit=0
    kf_active=""
    if kf_cache_holds; then
        kf_hit=1
        # The same processes run: the unit is in the state it was then.
        read -r kf_active <"$KF_PROBE_CACHE/active" || kf_active=""
        read -r kf_version <"$KF_PROBE_CACHE/version" || kf_version=""
        read -r kf_cri <"$KF_PROBE_CACHE/cri" || kf_cri=""
        dump="$KF_PROBE_CACHE/dump"
    else
        kf_containerd_config "${pids%% *}"
        dump=$(mktemp) || return 0
        kf_version=${KF_KNOWN_CONTAINERD:-$(containerd --version 2>/dev/null)}
        # Whether the running daemon's CRI plugin (which holds the runtimes) loaded.
        if kf_seen cri && read -r kf_cri <"$KF_RUN/seen-cri"; then :; else
            kf_cri=$(ctr plugins ls 2>/dev/null | awk '($1 == "io.containerd.grpc.v1" && $2 == "cri") || ($1 == "io.containerd.cri.v1" && $2 == "runtime") { print $NF; exit }')
        fi
        if [ -z "$cfg" ] && kf_seen dump; then
            cp "$KF_RUN/seen-dump" "$dump"
        elif containerd ${cfg:+--config "$cfg"} config dump >"$dump" 2>/dev/null; then
            :
        elif [ -z "$cfg" ] && [ ! -e /etc/containerd/config.toml ] && containerd config default >"$dump" 2>/dev/null; then
            # Without a config file containerd runs on its defaults (1.7 cannot dump them).
            :
        else
            rm -f "$dump"
        fi
    fi
    kf_kv containerd_version "$kf_version"
    [ -n "$kf_active" ] || kf_active=$(systemctl is-active containerd 2>/dev/null)
    kf_kv containerd_active "$kf_active"
    kf_kv cri_plugin "$kf_cri"
    [ "$kf_hit" = 1 ] && kf_kv containerd_cached yes
    kf_file containerd-config /etc/containerd/config.toml
    [ -f "$dump" ] && kf_file containerd-dump "$dump"
    # A changing script records these answers for the next run's probe.
    if [ "$kf_hit" = 0 ] && kf_may_record; then
        if kf_new=$(mktemp -d /var/lib/katafleet/.probe-cache.XXXXXX); then
            if ! { printf '%s\n' "$kf_version" >"$kf_new/version" &&
                printf '%s\n' "$kf_cri" >"$kf_new/cri" &&
                printf '%s\n' "$kf_active" >"$kf_new/active" &&
                { [ ! -f "$dump" ] || cp "$dump" "$kf_new/dump"; } &&
                kf_containerd_imports "${cfg:-/etc/containerd/config.toml}" "$kf_new/dump" &&
                kf_containerd_key "$cfg" &&
                printf '%s\n' "$kf_key" >"$kf_new/key" &&
                printf '%s\n' "$kf_imports" >"$kf_new/imports" &&
                printf 'procs%s\n%s\n' "$kf_procs" "$cfg" >"$kf_new/config" &&
                rm -rf "$KF_PROBE_CACHE" && mv "$kf_new" "$KF_PROBE_CACHE"; }; then
                rm -rf "$kf_new" "$KF_PROBE_CACHE"
            fi
        fi
    fi
    [ "$kf_hit" = 1 ] || rm -f "$dump"
}
