//! Draining a host's Kubernetes node around its upgrade: `kubectl cordon`
//! and `kubectl drain` (evictions honour PodDisruptionBudgets) right before
//! the host's first change, `kubectl uncordon` once it verified or was put
//! back. Every call has a time limit.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use super::Kubectl;
use crate::inventory::Host;
use crate::report::status::HostStatus;
use crate::run::error::HostError;
use crate::run::log::HostLog;
use crate::run::pipeline::{Gate, HostReport};

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
        // The inventory holds only node names; a name such as `--all`
        // would cordon every node, so it is refused here again.
        if let Some(problem) = crate::inventory::values::node_name(node) {
            return Err(HostError::Kubernetes(format!(
                "not draining, so nothing on the host was changed: {problem}"
            )));
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::release::Hypervisor;

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
        let mut h = super::super::tests::host(Hypervisor::Qemu, vec![]);
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
    async fn what_is_not_a_node_name_never_reaches_kubectl() {
        let dir = tempfile::tempdir().unwrap();
        let gate = NodeDrain::new(stub(dir.path(), ""), Duration::from_secs(5));
        let log = HostLog {
            path: dir.path().join("h.log"),
        };
        let e = gate.before_changes(&node("--all"), &log).await.unwrap_err();
        assert!(e.to_string().starts_with("not draining"), "{e}");
        assert!(calls(dir.path()).is_empty());
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
}
