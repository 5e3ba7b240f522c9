//! Kubernetes side: RuntimeClass manifests (one per handler, overhead per
//! hypervisor) and, with a kubeconfig, applying them and labelling nodes
//! from the controller with kubectl; during an upgrade, cordoning and
//! draining each node before its host changes and uncordoning it after.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::inventory::Host;
use crate::release::Hypervisor;
use crate::report::status::HostStatus;
use crate::run::error::HostError;
use crate::run::log::HostLog;
use crate::run::pipeline::{Gate, HostReport};

/// The label RuntimeClasses select on; set only on verified nodes.
pub const NODE_LABEL: &str = "katacontainers.io/kata-runtime";

/// Handler name → hypervisor, over the given hosts. When hosts disagree on a
/// handler's hypervisor, the one with the larger overhead wins (qemu).
pub fn fleet_handlers(hosts: &[Host]) -> BTreeMap<String, Hypervisor> {
    let mut out: BTreeMap<String, Hypervisor> = BTreeMap::new();
    for host in hosts {
        let kata = &host.desired.kata;
        let mut pairs = vec![("kata".to_string(), kata.hypervisor)];
        pairs.extend(
            kata.shims
                .iter()
                .map(|h| (format!("kata-{}", h.name()), *h)),
        );
        for (name, hv) in pairs {
            out.entry(name)
                .and_modify(|cur| {
                    if hv == Hypervisor::Qemu {
                        *cur = hv;
                    }
                })
                .or_insert(hv);
        }
    }
    out
}

pub fn runtime_classes(hosts: &[Host]) -> String {
    fleet_handlers(hosts)
        .into_iter()
        .map(|(name, hv)| crate::plan::templates::runtime_class(&name, hv))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cannot run kubectl: {0}")]
    Spawn(std::io::Error),
    #[error("not labelling: {0}")]
    NotANode(String),
    #[error("`kubectl {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("`kubectl {args}` did not finish within {} s, so it was stopped", .after.as_secs())]
    TimedOut { args: String, after: Duration },
}

/// How long cordon and uncordon may take (each API request, and the whole call).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// What kubectl gets beyond `drain --timeout` to give up on its own.
const DRAIN_GRACE: Duration = Duration::from_secs(30);

/// `kubectl cordon NODE`: no new pods are scheduled on it.
pub fn cordon_args(node: &str) -> Vec<String> {
    vec![
        "cordon".into(),
        node.into(),
        format!("--request-timeout={}s", CALL_TIMEOUT.as_secs()),
    ]
}

/// `kubectl drain NODE ...`: evicts its pods through the eviction API, so
/// PodDisruptionBudgets are honoured; DaemonSet pods stay (they would come
/// straight back), emptyDir data goes with its pod.
pub fn drain_args(node: &str, timeout: Duration) -> Vec<String> {
    vec![
        "drain".into(),
        node.into(),
        "--ignore-daemonsets".into(),
        "--delete-emptydir-data".into(),
        format!("--timeout={}s", timeout.as_secs()),
    ]
}

pub fn uncordon_args(node: &str) -> Vec<String> {
    vec![
        "uncordon".into(),
        node.into(),
        format!("--request-timeout={}s", CALL_TIMEOUT.as_secs()),
    ]
}

/// kubectl with one kubeconfig, run from the controller with a time limit.
#[derive(Debug, Clone)]
pub struct Kubectl {
    /// `kubectl` from PATH, but in tests.
    pub program: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn new(kubeconfig: &Path) -> Self {
        Self {
            program: "kubectl".into(),
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    /// Runs `kubectl --kubeconfig K ARGS`; stopped (killed) after `limit`.
    pub async fn run(&self, args: &[String], limit: Duration) -> Result<String, KubeError> {
        let child = tokio::process::Command::new(&self.program)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(KubeError::Spawn)?;
        let out = match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(out) => out.map_err(KubeError::Spawn)?,
            Err(_) => {
                return Err(KubeError::TimedOut {
                    args: args.join(" "),
                    after: limit,
                })
            }
        };
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(KubeError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }
}

/// The upgrade's gate: each host's node is cordoned and drained before the
/// host changes, and uncordoned once it verified or was put back. A node
/// whose host failed stays cordoned, and its report says so.
pub struct NodeDrain {
    pub kubectl: Kubectl,
    pub drain_timeout: Duration,
    /// Nodes this run cordoned and has not uncordoned yet.
    cordoned: Mutex<BTreeSet<String>>,
}

impl NodeDrain {
    pub fn new(kubectl: Kubectl, drain_timeout: Duration) -> Self {
        Self {
            kubectl,
            drain_timeout,
            cordoned: Mutex::new(BTreeSet::new()),
        }
    }

    fn cordoned(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.cordoned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After the host's run: uncordon when it verified (or is back as it
    /// was); otherwise leave the node cordoned and say so.
    pub async fn after(&self, host: &Host, report: &mut HostReport) {
        let node = &host.node_name;
        if !self.cordoned().remove(node) {
            return;
        }
        let fine = matches!(
            report.status,
            HostStatus::Upgraded | HostStatus::Ok | HostStatus::Changed | HostStatus::RolledBack
        );
        if !fine {
            report.warnings.push(format!(
                "node {node} stays cordoned: the host {}; uncordon it with `kubectl uncordon {node}` once it is fixed",
                report.status.word()
            ));
            return;
        }
        if let Err(e) = self.kubectl.run(&uncordon_args(node), CALL_TIMEOUT).await {
            report
                .warnings
                .push(format!("node {node} stays cordoned: {e}"));
        }
    }
}

#[async_trait::async_trait]
impl Gate for NodeDrain {
    async fn before_changes(&self, host: &Host, log: &HostLog) -> Result<(), HostError> {
        let node = &host.node_name;
        self.kubectl
            .run(&cordon_args(node), CALL_TIMEOUT)
            .await
            .map_err(|e| {
                HostError::Kubernetes(format!(
                    "cannot cordon node {node}, so nothing on the host was changed: {e}"
                ))
            })?;
        self.cordoned().insert(node.clone());
        let out = self
            .kubectl
            .run(
                &drain_args(node, self.drain_timeout),
                self.drain_timeout + DRAIN_GRACE,
            )
            .await
            .map_err(|e| {
                HostError::Kubernetes(format!(
                    "draining node {node} failed, so nothing on the host was changed: {e}"
                ))
            })?;
        log.section("kubectl drain", &out);
        Ok(())
    }
}

/// `kubectl --kubeconfig K apply -f -` with the manifests on stdin.
pub fn apply(kubeconfig: &Path, manifests: &str) -> Result<String, KubeError> {
    kubectl(kubeconfig, &["apply", "-f", "-"], Some(manifests))
}

/// Marks a node as able to run Kata pods. The inventory only holds valid
/// node names; this refuses anything else again, because a name such as
/// `--all` would label every node in the cluster.
pub fn label(kubeconfig: &Path, node: &str) -> Result<String, KubeError> {
    if let Some(problem) = crate::inventory::values::node_name(node) {
        return Err(KubeError::NotANode(problem));
    }
    let label = format!("{NODE_LABEL}=true");
    kubectl(
        kubeconfig,
        &["label", "node", node, &label, "--overwrite"],
        None,
    )
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Result<String, KubeError> {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(KubeError::Spawn)?;
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        pipe.write_all(input.as_bytes()).map_err(KubeError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(KubeError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(KubeError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Connection, Desired};

    #[test]
    fn cordon_drain_and_uncordon_say_exactly_this_to_kubectl() {
        assert_eq!(
            cordon_args("node-1"),
            ["cordon", "node-1", "--request-timeout=30s"]
        );
        assert_eq!(
            drain_args("node-1", Duration::from_secs(300)),
            [
                "drain",
                "node-1",
                "--ignore-daemonsets",
                "--delete-emptydir-data",
                "--timeout=300s"
            ]
        );
        assert_eq!(
            uncordon_args("node-1"),
            ["uncordon", "node-1", "--request-timeout=30s"]
        );
    }

    /// A stand-in kubectl: logs its arguments, and runs `body`.
    fn stub(dir: &Path, body: &str) -> Kubectl {
        use std::os::unix::fs::PermissionsExt;
        let program = dir.join("kubectl");
        let log = dir.join("calls");
        std::fs::write(
            &program,
            format!("#!/bin/sh\necho \"$*\" >>'{}'\n{body}\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        Kubectl {
            program,
            kubeconfig: dir.join("kubeconfig"),
        }
    }

    fn calls(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn node(name: &str) -> Host {
        let mut h = host(Hypervisor::Qemu, vec![]);
        h.node_name = name.into();
        h
    }

    #[tokio::test]
    async fn a_hung_kubectl_is_stopped_at_its_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        let kubectl = stub(dir.path(), "sleep 30");
        let started = std::time::Instant::now();
        let e = kubectl
            .run(&cordon_args("n"), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(e.to_string().contains("did not finish within 0 s"), "{e}");
    }

    #[tokio::test]
    async fn a_failed_drain_fails_the_host_unchanged_and_its_node_stays_cordoned() {
        let dir = tempfile::tempdir().unwrap();
        let kubectl = stub(
            dir.path(),
            "case $3 in drain) echo 'Cannot evict pod as it would violate the disruption budget.' >&2; exit 1;; esac",
        );
        let gate = NodeDrain::new(kubectl, Duration::from_secs(5));
        let log = HostLog {
            path: dir.path().join("h.log"),
        };
        let e = gate.before_changes(&node("n1"), &log).await.unwrap_err();
        assert_eq!(e.stage(), crate::run::error::Stage::Kubernetes);
        assert!(
            e.to_string()
                .contains("draining node n1 failed, so nothing on the host was changed"),
            "{e}"
        );
        assert!(e.to_string().contains("disruption budget"), "{e}");
        let mut report = HostReport::failed("h", e);
        gate.after(&node("n1"), &mut report).await;
        let kubeconfig = dir.path().join("kubeconfig");
        let k = kubeconfig.display();
        assert_eq!(
            calls(dir.path()),
            [
                format!("--kubeconfig {k} cordon n1 --request-timeout=30s"),
                format!("--kubeconfig {k} drain n1 --ignore-daemonsets --delete-emptydir-data --timeout=5s"),
            ],
            "no uncordon"
        );
        assert!(
            report.warnings[0].starts_with("node n1 stays cordoned: the host failed"),
            "{:?}",
            report.warnings
        );
    }

    #[tokio::test]
    async fn a_verified_or_rolled_back_host_gets_its_node_back() {
        let dir = tempfile::tempdir().unwrap();
        let gate = NodeDrain::new(stub(dir.path(), ""), Duration::from_secs(5));
        let log = HostLog {
            path: dir.path().join("h.log"),
        };
        for (name, status) in [("n1", HostStatus::Upgraded), ("n2", HostStatus::RolledBack)] {
            gate.before_changes(&node(name), &log).await.unwrap();
            let mut report = HostReport::failed("h", HostError::Internal(String::new()));
            report.status = status;
            gate.after(&node(name), &mut report).await;
            assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        }
        let verbs: Vec<String> = calls(dir.path())
            .iter()
            .map(|c| c.split(' ').nth(2).unwrap().to_string())
            .collect();
        assert_eq!(
            verbs,
            ["cordon", "drain", "uncordon", "cordon", "drain", "uncordon"]
        );
        // A host that never reached the gate (nothing to change) is not uncordoned.
        let mut report = HostReport::failed("h", HostError::Internal(String::new()));
        report.status = HostStatus::Ok;
        gate.after(&node("n3"), &mut report).await;
        assert_eq!(calls(dir.path()).len(), 6);
    }

    fn host(hv: Hypervisor, shims: Vec<Hypervisor>) -> Host {
        let mut desired = Desired::sample();
        desired.kata.hypervisor = hv;
        desired.kata.shims = shims;
        Host {
            name: "h".into(),
            node_name: "h".into(),
            groups: vec![],
            connection: Connection::local_for_tests(),
            desired,
        }
    }

    #[test]
    fn one_runtime_class_per_handler_with_its_overhead() {
        let hosts = [host(
            Hypervisor::Qemu,
            vec![Hypervisor::Qemu, Hypervisor::Clh],
        )];
        let yaml = runtime_classes(&hosts);
        let docs: Vec<&str> = yaml.split("---").filter(|d| d.contains("kind:")).collect();
        assert_eq!(docs.len(), 3, "{yaml}");
        let clh = docs.iter().find(|d| d.contains("name: kata-clh")).unwrap();
        assert!(clh.contains("handler: kata-clh"), "{clh}");
        assert!(
            clh.contains("memory: \"130Mi\"") && clh.contains("cpu: \"250m\""),
            "{clh}"
        );
        let kata = docs.iter().find(|d| d.contains("name: kata\n")).unwrap();
        assert!(kata.contains("memory: \"320Mi\""), "{kata}");
        assert!(
            kata.contains("katacontainers.io/kata-runtime: \"true\""),
            "{kata}"
        );
    }

    /// Regression: `node_name = "--all"` labelled every node in the cluster.
    #[test]
    fn labelling_refuses_what_is_not_a_node_name_before_running_kubectl() {
        for node in ["--all", "-l", "a b", "$(id)"] {
            let e = label(Path::new("/nonexistent/kubeconfig"), node).unwrap_err();
            assert!(matches!(e, KubeError::NotANode(_)), "{node}: {e}");
        }
    }

    #[test]
    fn hosts_that_disagree_get_the_larger_overhead() {
        let hosts = [
            host(Hypervisor::Clh, vec![]),
            host(Hypervisor::Qemu, vec![]),
        ];
        assert_eq!(fleet_handlers(&hosts)["kata"], Hypervisor::Qemu);
    }
}
