"""The katafleet `provision` workload as a pyinfra 3.x deploy.

bench/run passes the tarball and its sha256 in the environment
(KF_BENCH_TARBALL, KF_BENCH_SHA256); the inventory is bench/pyinfra/inventory.py.
"""

import json
import os
from pathlib import Path

from pyinfra import host
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import files, server, systemd

HERE = Path(__file__).resolve().parent
FILES = HERE.parent / "files"
VARS = json.loads((FILES / "vars.json").read_text())
TARBALL = os.environ["KF_BENCH_TARBALL"]
SHA256 = os.environ["KF_BENCH_SHA256"]
REMOTE_TARBALL = "/var/cache/" + os.path.basename(TARBALL)

# 1. OS facts.
distro = host.get_fact(LinuxDistribution)
assert distro["name"], "no OS facts"

# 2. Copy the release tarball (skipped when the remote sha1 already matches).
tarball = files.put(
    name="Copy the release tarball",
    src=TARBALL,
    dest=REMOTE_TARBALL,
    mode="644",
)

# 3. Verify its sha256 and extract it to /opt/kata.
server.shell(
    name="Verify the sha256 and extract to /opt/kata",
    commands=[
        f"echo '{SHA256}  {REMOTE_TARBALL}' | sha256sum -c --quiet",
        f"tar --no-same-owner -x -f {REMOTE_TARBALL} -C / --use-compress-program='zstd -d'",
    ],
    _if=tarball.did_change,
)

# 4. Kata settings, the containerd runtime config and the modules-load file.
files.directory(
    name="Kata drop-in directory",
    path=os.path.dirname(VARS["kata_dropin"]),
    mode="755",
)
files.template(
    name="Kata settings drop-in",
    src=str(FILES / "kata-dropin.toml.j2"),
    dest=VARS["kata_dropin"],
    mode="644",
    **VARS,
)
containerd_config = files.template(
    name="containerd runtime config",
    src=str(FILES / "containerd-config.toml.j2"),
    dest="/etc/containerd/config.toml",
    mode="644",
    **VARS,
)
files.template(
    name="Kernel modules at boot",
    src=str(FILES / "modules-load.conf.j2"),
    dest="/etc/modules-load.d/katafleet.conf",
    mode="644",
    **VARS,
)

# 5. Restart containerd when its config changed.
systemd.service(
    name="Restart containerd",
    service="containerd",
    restarted=True,
    _if=containerd_config.did_change,
)

# 6. One verification command.
server.shell(
    name="Verify containerd has the kata runtime",
    commands=[f"containerd config dump | grep -qF '{VARS['kata_shim']}'"],
)
