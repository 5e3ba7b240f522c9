#!/usr/bin/env python3
"""Benchmark driver: runs every contender against fresh test fleets and
records wall time, controller CPU and controller peak memory.

Called by bench/run (which prepares the venv, rootfs, fixture and binary).
For each host count and round, and for each contender (in an order rotated
per round): `fleet up` a fresh fleet, check it is fresh, run the contender
twice (first run, idempotent second run), check after each run that the
work was done (and, after the second, that nothing was redone), `fleet
down`. Each measured run is one process tree in its own cgroup (v1 cpuacct
+ memory): CPU = cpuacct.usage of the tree; memory = peak of the summed PSS
of the tree's processes, sampled every 50 ms. Results are appended to a
JSON-lines file as they come in.
"""

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
FLEET = REPO / "vm-tests/fleet/fleet"
SCRIPTS = REPO / "provisioner/src/script"


def probe_text():
    """katafleet's facts probe as it is sent: the prelude, then its containerd
    part and probe.sh (src/script/probe.rs). Without KF_CACHED it asks every
    daemon afresh, as a first run does."""
    parts = ("prelude.sh", "probe_containerd.sh", "probe.sh")
    return "\n".join((SCRIPTS / p).read_text() for p in parts)
CG_CPU = Path("/sys/fs/cgroup/cpuacct")
CG_MEM = Path("/sys/fs/cgroup/memory")
CG_NAME = "katafleet-bench"

VARS = json.loads((BENCH / "files/vars.json").read_text())

CONTENDERS = ["katafleet", "ansible", "ansible-tuned", "pyinfra", "raw-ssh", "katafleet-par"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- measuring


class Measured:
    def __init__(self, rc, wall, cpu, peak_pss, peak_procs, out, err):
        self.rc, self.wall, self.cpu = rc, wall, cpu
        self.peak_pss, self.peak_procs = peak_pss, peak_procs
        self.out, self.err = out, err


def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _procs(cg):
    try:
        return [int(p) for p in (cg / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_tree(cg):
    """Ends whatever the measured command left behind (e.g. ControlPersist
    masters), by pid, from its own cgroup."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        pids = _procs(cg)
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        end = time.monotonic() + wait
        while _procs(cg) and time.monotonic() < end:
            time.sleep(0.05)


def measure(argv, env, cwd, out_path, timeout):
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    cpu_cg = CG_CPU / CG_NAME / tag
    mem_cg = CG_MEM / CG_NAME / tag
    cpu_cg.mkdir(parents=True)
    mem_cg.mkdir(parents=True)

    def join():
        me = str(os.getpid())
        (cpu_cg / "cgroup.procs").write_text(me)
        (mem_cg / "cgroup.procs").write_text(me)

    peak = {"pss": 0, "procs": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            pids = _procs(mem_cg)
            total = sum(_pss_kib(p) for p in pids)
            peak["pss"] = max(peak["pss"], total)
            peak["procs"] = max(peak["procs"], len(pids))
            done.wait(0.05)

    with open(f"{out_path}.out", "wb") as out, open(f"{out_path}.err", "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
            stderr=err, preexec_fn=join,
        )
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"timeout after {timeout}s: {argv[:6]}")
            rc = -1
        wall = time.monotonic() - t0
        cpu = int((cpu_cg / "cpuacct.usage").read_text()) / 1e9
        done.set()
        sampler.join()
    _kill_tree(mem_cg)
    proc.wait()
    for cg in (cpu_cg, mem_cg):
        try:
            cg.rmdir()
        except OSError as e:
            log(f"cannot remove {cg}: {e}")
    return Measured(
        rc, wall, cpu, peak["pss"] / 1024, peak["procs"],
        Path(f"{out_path}.out").read_text(errors="replace"),
        Path(f"{out_path}.err").read_text(errors="replace"),
    )


# ------------------------------------------------------------------- fleets


class Fleet:
    def __init__(self, name, count, env):
        self.name, self.count, self.env = name, count, env
        self.state = Path("/run/katafleet-fleet") / name

    def up(self):
        t0 = time.monotonic()
        r = subprocess.run(
            [str(FLEET), "up", self.name, str(self.count)], env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        if r.returncode != 0:
            self.down()
            raise RuntimeError(f"fleet up {self.name} {self.count} failed:\n{r.stderr}")
        self.hosts = [
            tuple(line.split())
            for line in (self.state / "hosts").read_text().splitlines()
            if line.strip()
        ]
        self.hub = (self.state / "hub").read_text().strip()
        return time.monotonic() - t0

    def down(self):
        subprocess.run(
            [str(FLEET), "down", self.name], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def in_hub(self, argv):
        return ["ip", "netns", "exec", self.hub] + argv

    def cpu_s(self):
        """CPU seconds the fleet's machines have used so far: the fleet's
        cgroup2 `cpu.stat` counts every process of every host (sshd, the
        scripts, containerd), and is there without any controller enabled."""
        for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
            stat = root / "katafleet" / self.name / "cpu.stat"
            if stat.exists():
                for line in stat.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
        raise RuntimeError(f"no cpu.stat for fleet {self.name}: cannot measure the hosts' CPU")


# The state of one host, one line: name key=value...
CHECK = r"""
s() { "$@" >/dev/null 2>&1 && echo 1 || echo 0; }
echo "host=$(hostname)" \
  "kata=$(s test -x '%(shim)s')" \
  "padding=$(stat -c %%s /opt/kata/share/kata-containers/.fixture-padding 2>/dev/null || echo 0)" \
  "dropin=$(s grep -q default_vcpus '%(dropin)s')" \
  "modules=$(s grep -qx vhost_vsock /etc/modules-load.d/katafleet.conf)" \
  "runtime=$(containerd config dump 2>/dev/null | grep -qF '%(shim)s' && echo 1 || echo 0)" \
  "cri=$(ctr plugins ls 2>/dev/null | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" { print $NF; exit }')" \
  "active=$(systemctl is-active containerd)" \
  "pid=$(systemctl show -p MainPID --value containerd)"
""" % {"shim": VARS["kata_shim"], "dropin": VARS["kata_dropin"]}


def sweep(fleet):
    """Each host's state, over SSH from the hub, all hosts at once."""
    cfg = str(fleet.state / "ssh_config")
    procs = {
        name: subprocess.Popen(
            fleet.in_hub(["ssh", "-F", cfg, ip, CHECK]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, ip in fleet.hosts
    }
    states = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=120)
        kv = dict(w.split("=", 1) for w in out.split() if "=" in w)
        kv["ok"] = p.returncode == 0
        kv["err"] = err.strip()
        states[name] = kv
    return states


def settle(fleet):
    """`fleet up` returns once sshd answers; let the hosts finish booting
    (50 systemd boots on 2 cores) so a contender does not pay for that."""
    cfg = str(fleet.state / "ssh_config")
    procs = [
        subprocess.Popen(
            fleet.in_hub(["ssh", "-F", cfg, ip, "timeout 120 systemctl is-system-running --wait"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _, ip in fleet.hosts
    ]
    for p in procs:
        p.wait()
    time.sleep(2 + len(fleet.hosts) / 25)


def problems(phase, before, after):
    """What is wrong with the hosts after `phase` ("fresh", "first", "second")."""
    bad = []
    for name, st in after.items():
        if not st["ok"]:
            bad.append(f"{name}: state check failed: {st['err']}")
            continue
        if st.get("active") != "active":
            bad.append(f"{name}: containerd is {st.get('active')}")
        if phase == "fresh":
            if st.get("kata") != "0" or st.get("runtime") != "0":
                bad.append(f"{name}: not a fresh host")
            continue
        for key in ("kata", "dropin", "modules", "runtime"):
            if st.get(key) != "1":
                bad.append(f"{name}: {key} missing after the {phase} run")
        # The CRI plugin must still load (Kubernetes needs it): a config
        # whose runtimes table lacks runc fails it on containerd 1.6, and
        # such a containerd also restarts and idles cheaper.
        if st.get("cri") != "ok":
            bad.append(f"{name}: containerd's CRI plugin is {st.get('cri') or 'absent'} after the {phase} run")
        if st.get("padding") != str(50 * 1024 * 1024):
            bad.append(f"{name}: release incomplete ({st.get('padding')} bytes of padding)")
        pid_before = before[name].get("pid")
        if phase == "first" and st.get("pid") == pid_before:
            bad.append(f"{name}: containerd was not restarted")
        if phase == "second" and st.get("pid") != pid_before:
            bad.append(f"{name}: containerd was restarted by the idempotent run")
    return bad


# -------------------------------------------------------------- contenders


class Ctx:
    """What every contender needs for one fleet."""

    def __init__(self, args, fleet, work):
        self.args, self.fleet, self.work = args, fleet, work
        self.venv = Path(args.venv)
        self.tarball = Path(args.tarball)
        self.sha256 = args.sha256
        self.env = dict(os.environ)
        self.env.update({
            "PATH": f"{self.venv}/bin:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "KF_BENCH_TARBALL": str(self.tarball),
            "KF_BENCH_SHA256": self.sha256,
            "KF_BENCH_FLEET_DIR": str(fleet.state),
            "LC_ALL": "C.UTF-8",
        })


def katafleet_inventory(ctx):
    st = ctx.fleet.state
    lines = [
        "[defaults]",
        'user = "root"',
        f'identity_file = "{st}/id_ed25519"',
        f'known_hosts_file = "{st}/known_hosts"',
        "",
        "[kata]",
        'version = "4.2.0"',
        f'source = "{ctx.tarball.parent}/{{asset}}"',
        f'sha256 = "{ctx.sha256}"',
    ]
    for name, ip in ctx.fleet.hosts:
        lines += ["", "[[hosts]]", f'name = "{name}"', f'address = "{ip}"']
    path = ctx.work / "inventory.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def ansible_inventory(ctx):
    st = ctx.fleet.state
    common = (
        f"-o UserKnownHostsFile={st}/known_hosts -o StrictHostKeyChecking=yes "
        "-o IdentitiesOnly=yes"
    )
    lines = ["[fleet]"]
    lines += [f"{name} ansible_host={ip}" for name, ip in ctx.fleet.hosts]
    lines += [
        "",
        "[fleet:vars]",
        "ansible_user=root",
        f"ansible_ssh_private_key_file={st}/id_ed25519",
        f"ansible_ssh_common_args='{common}'",
    ]
    path = ctx.work / "inventory.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def render_raw(ctx, payload):
    import jinja2  # from the venv (ansible-core depends on it)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(BENCH)), keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )

    def file(name):
        return env.get_template(f"files/{name}").render(**VARS).rstrip("\n")

    text = env.get_template("raw/provision.sh.j2").render(
        probe=probe_text(), sha256=ctx.sha256, size=ctx.tarball.stat().st_size,
        payload=payload, dropin=file("kata-dropin.toml.j2"),
        modules=file("modules-load.conf.j2"),
        containerd=file("containerd-config.toml.j2"), **VARS,
    )
    path = ctx.work / f"raw-{'install' if payload else 'check'}.sh"
    path.write_text(text)
    return path


def command(contender, run, ctx):
    """argv, env and a success check for one run (1 or 2) of a contender."""
    st = ctx.fleet.state
    env = dict(ctx.env)
    if contender in ("katafleet", "katafleet-par"):
        inv = katafleet_inventory(ctx)
        argv = [
            ctx.args.katafleet, "provision", str(inv), "--force", "--json",
            "--log-dir", str(ctx.work / "kf-logs"),
            "--cache-dir", str(ctx.work / "kf-cache"),
        ]
        if contender == "katafleet-par":
            # Diagnostic, not a contender: katafleet with its host limit
            # (default parallel = 20) raised to the host count.
            argv += ["--parallel", str(len(ctx.fleet.hosts))]

        def check(m):
            try:
                hosts = json.loads(m.out)["hosts"]
            except (ValueError, KeyError):
                return ["katafleet printed no JSON report"]
            want = "changed" if run == 1 else "ok"
            bad = [
                f"{h['name']}: {h['status']} {h.get('error') or ''}"
                for h in hosts if h["status"] != want
            ]
            if run == 2:
                bad += [f"{h['name']}: {h['changed']} changes" for h in hosts if h["changed"]]
            return bad + ([] if len(hosts) == len(ctx.fleet.hosts) else ["hosts missing"])

    elif contender in ("ansible", "ansible-tuned"):
        inv = ansible_inventory(ctx)
        env["ANSIBLE_CONFIG"] = str(
            BENCH / "ansible" / ("tuned.cfg" if contender == "ansible-tuned" else "default.cfg")
        )
        env["ANSIBLE_HOME"] = str(ctx.work / "ansible-home")
        env["ANSIBLE_NOCOLOR"] = "1"
        if contender == "ansible-tuned":
            env["ANSIBLE_FORKS"] = str(len(ctx.fleet.hosts))
        argv = [
            f"{ctx.venv}/bin/ansible-playbook", "-i", str(inv),
            str(BENCH / "ansible/playbook.yml"),
        ]

        def check(m):
            recap = [l for l in m.out.splitlines() if "unreachable=" in l and "failed=" in l]
            bad = [l for l in recap if " failed=0 " not in l + " " or "unreachable=0" not in l]
            if run == 2:
                bad += [l for l in recap if "changed=0" not in l]
            if len(recap) != len(ctx.fleet.hosts):
                bad.append(f"{len(recap)} of {len(ctx.fleet.hosts)} hosts in the recap")
            return bad

    elif contender == "pyinfra":
        argv = [
            f"{ctx.venv}/bin/pyinfra", "-y",
            str(BENCH / "pyinfra/inventory.py"), str(BENCH / "pyinfra/deploy.py"),
        ]

        def check(m):
            return []  # exit status plus the state sweep

    elif contender == "raw-ssh":
        script = render_raw(ctx, payload=(run == 1))
        argv = [
            str(BENCH / "raw/raw-ssh"), str(st / "ssh_config"), str(st / "hosts"),
            str(script),
        ] + ([str(ctx.tarball)] if run == 1 else [])

        def check(m):
            return []

    elif contender == "facts-rtt":
        probe = ctx.work / "probe.sh"
        probe.write_text(probe_text())
        argv = [
            str(BENCH / "raw/facts-rtt"), str(st / "ssh_config"), str(st / "hosts"),
            str(probe), VARS["kata_dropin"], "/etc/modules-load.d/katafleet.conf",
            "/etc/containerd/conf.d/katafleet.toml",
        ]

        def check(m):
            return []

    else:
        raise ValueError(contender)
    return ctx.fleet.in_hub(argv), env, check


# ---------------------------------------------------------------- the loop


def loadavg():
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_one(args, count, rnd, contender, fleet_env, results):
    """One contender on one fresh fleet: first run, second run (and, after
    katafleet, the bare facts round trip on the same hosts)."""
    fleet = Fleet(args.fleet_name, count, fleet_env)
    work = Path(args.work) / f"n{count}-r{rnd}-{contender}"
    subprocess.run(["rm", "-rf", str(work)])
    work.mkdir(parents=True)
    failures = []
    try:
        up_secs = fleet.up()
        ctx = Ctx(args, fleet, work)
        settle(fleet)
        before = sweep(fleet)
        bad = problems("fresh", before, before)
        if bad:
            raise RuntimeError("fleet not fresh: " + "; ".join(bad[:5]))
        runs = [(contender, 1), (contender, 2)]
        if contender == "katafleet":
            runs.append(("facts-rtt", 1))
        for name, run in runs:
            argv, env, check = command(name, run, ctx)
            load = loadavg()
            hosts_cpu = fleet.cpu_s()
            m = measure(argv, env, str(work), str(work / f"{name}-run{run}"), args.timeout)
            hosts_cpu = fleet.cpu_s() - hosts_cpu
            bad = [] if m.rc == 0 else [f"exit status {m.rc}: {m.err.strip()[-2000:]}"]
            bad += check(m)
            if name != "facts-rtt":
                after = sweep(fleet)
                bad += problems("first" if run == 1 else "second", before, after)
                if run == 1:
                    before = after
            rec = {
                "hosts": count, "round": rnd, "contender": name, "run": run,
                "wall_s": round(m.wall, 3), "cpu_s": round(m.cpu, 3),
                "hosts_cpu_s": round(hosts_cpu, 3),
                "peak_pss_mib": round(m.peak_pss, 1), "peak_procs": m.peak_procs,
                "load_before": load, "ok": not bad, "problems": bad[:20],
                "fleet_up_s": round(up_secs, 1), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            results.write(json.dumps(rec) + "\n")
            results.flush()
            status = "ok" if not bad else "FAILED: " + "; ".join(bad[:3])
            log(
                f"{count:>3} hosts round {rnd} {name:<13} run {run}: "
                f"{m.wall:7.2f}s wall {m.cpu:7.2f}s cpu {hosts_cpu:7.2f}s hosts' cpu "
                f"{m.peak_pss:7.1f} MiB  {status}"
            )
            if bad:
                failures.append(f"{name} run {run} on {count} hosts: {bad[0]}")
                break
    except Exception as e:  # a broken fleet is a failure of the bench, not the tool
        failures.append(f"{contender} on {count} hosts: {e}")
        log(f"error: {e}")
    finally:
        fleet.down()
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default="1,10,50,200")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--katafleet", required=True)
    ap.add_argument("--tarball", required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--cache", required=True, help="KATAFLEET_CACHE holding the bench rootfs")
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True, help="JSON-lines file to append to")
    ap.add_argument("--fleet-name", default=f"kb{os.getpid() % 10000}")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args()

    for cg in (CG_CPU / CG_NAME, CG_MEM / CG_NAME):
        cg.mkdir(parents=True, exist_ok=True)
    fleet_env = dict(os.environ, KATAFLEET_CACHE=args.cache)
    contenders = args.contenders.split(",")
    counts = [int(c) for c in args.hosts.split(",")]
    failures = []
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    with open(args.results, "a") as results:
        try:
            for count in counts:
                for rnd in range(1, args.rounds + 1):
                    # Rotate the order each round, so no tool always runs first.
                    k = (rnd - 1) % len(contenders)
                    for c in contenders[k:] + contenders[:k]:
                        if c == "katafleet-par" and count <= 20:
                            continue  # the same as katafleet: default parallel is 20
                        if c.startswith("ansible") and count > 50:
                            continue  # 5+ minutes a run at 50 hosts already
                        failures += run_one(args, count, rnd, c, fleet_env, results)
        except KeyboardInterrupt:
            log("interrupted")
            return 130
    for f in failures:
        log(f"FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
