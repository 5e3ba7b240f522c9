# katafleet status: ask the running daemons what they see. Runs after the
# facts probe in the same script (its `have` is in scope); read-only.
if have ctr; then
    kf_block ctr-plugins timeout 10 ctr plugins ls
    # The CRI plugin's load error, if any (1.x: grpc.v1 cri; 2.x: cri.v1 runtime).
    kf_block ctr-cri-detail sh -c 'timeout 10 ctr plugins ls -d id==cri; timeout 10 ctr plugins ls -d id==runtime'
fi
if have crictl; then
    kf_block crictl-info timeout 10 crictl --runtime-endpoint unix:///run/containerd/containerd.sock info
fi
if have docker && [ "$(systemctl is-active docker 2>/dev/null)" = active ]; then
    kf_block docker-runtimes timeout 10 docker info --format '{{json .Runtimes}}'
fi
if have systemctl && [ "$(systemctl is-active containerd 2>/dev/null)" = active ]; then
    since=$(systemctl show -p ActiveEnterTimestamp --value containerd 2>/dev/null)
    [ -n "$since" ] && kf_kv containerd_since "$(date -d "$since" +%s 2>/dev/null)"
fi
newest=0
for f in /etc/containerd/config.toml /etc/containerd/conf.d/*.toml; do
    [ -f "$f" ] || continue
    m=$(stat -c %Y "$f" 2>/dev/null || echo 0)
    [ "$m" -gt "$newest" ] && newest=$m
done
kf_kv containerd_config_mtime "$newest"
