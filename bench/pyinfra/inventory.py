"""pyinfra inventory for a test fleet: bench/run sets KF_BENCH_FLEET_DIR."""

import os

_state = os.environ["KF_BENCH_FLEET_DIR"]
_data = {
    "ssh_user": "root",
    "ssh_key": os.path.join(_state, "id_ed25519"),
    "ssh_known_hosts_file": os.path.join(_state, "known_hosts"),
    "ssh_strict_host_key_checking": "yes",
}

with open(os.path.join(_state, "hosts")) as _f:
    hosts = [
        (name, dict(_data, ssh_hostname=ip))
        for name, ip in (line.split() for line in _f if line.strip())
    ]
