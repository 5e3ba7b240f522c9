//! Kubernetes side: RuntimeClass manifests (one per handler, overhead per
//! hypervisor) and, with a kubeconfig, applying them and labelling nodes
//! from the controller with kubectl; during an upgrade, draining each node
//! around its host's change (`drain`).

pub mod drain;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::inventory::Host;
use crate::release::Hypervisor;

pub use drain::NodeDrain;

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
        self.run_with_input(args, None, limit).await
    }

    /// Like `run`, with `input` on kubectl's stdin.
    pub async fn run_with_input(
        &self,
        args: &[String],
        input: Option<&str>,
        limit: Duration,
    ) -> Result<String, KubeError> {
        let mut child = tokio::process::Command::new(&self.program)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(KubeError::Spawn)?;
        let stdin = child.stdin.take();
        let work = async {
            if let (Some(mut pipe), Some(text)) = (stdin, input) {
                pipe.write_all(text.as_bytes()).await?;
            }
            child.wait_with_output().await
        };
        // On timeout the child is dropped, which kills it.
        let out = match tokio::time::timeout(limit, work).await {
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

/// How long applying the RuntimeClasses or labelling a node may take in
/// all, and each request to the API server: a cluster that does not answer
/// never holds up the end of a run.
const KUBECTL_LIMIT: Duration = Duration::from_secs(120);
const REQUEST_TIMEOUT: &str = "--request-timeout=30s";

/// `kubectl --kubeconfig K apply -f -` with the manifests on stdin.
pub async fn apply(kubeconfig: &Path, manifests: &str) -> Result<String, KubeError> {
    let args = [REQUEST_TIMEOUT, "apply", "-f", "-"].map(String::from);
    Kubectl::new(kubeconfig)
        .run_with_input(&args, Some(manifests), KUBECTL_LIMIT)
        .await
}

/// Marks a node as able to run Kata pods. The inventory only holds valid
/// node names; this refuses anything else again, because a name such as
/// `--all` would label every node in the cluster.
pub async fn label(kubeconfig: &Path, node: &str) -> Result<String, KubeError> {
    if let Some(problem) = crate::inventory::values::node_name(node) {
        return Err(KubeError::NotANode(problem));
    }
    let label = format!("{NODE_LABEL}=true");
    let args = [
        REQUEST_TIMEOUT,
        "label",
        "node",
        node,
        &label,
        "--overwrite",
    ]
    .map(String::from);
    Kubectl::new(kubeconfig).run(&args, KUBECTL_LIMIT).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Connection, Desired};

    pub(super) fn host(hv: Hypervisor, shims: Vec<Hypervisor>) -> Host {
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
    #[tokio::test]
    async fn labelling_refuses_what_is_not_a_node_name_before_running_kubectl() {
        for node in ["--all", "-l", "a b", "$(id)"] {
            let e = label(Path::new("/nonexistent/kubeconfig"), node)
                .await
                .unwrap_err();
            assert!(matches!(e, KubeError::NotANode(_)), "{node}: {e}");
        }
    }

    #[tokio::test]
    async fn a_kubectl_that_hangs_on_its_input_is_stopped_at_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("kubectl");
        std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let kubectl = Kubectl {
            program: fake,
            kubeconfig: "kubeconfig".into(),
        };
        let started = std::time::Instant::now();
        let args = ["apply", "-f", "-"].map(String::from);
        let err = kubectl
            .run_with_input(&args, Some("kind: RuntimeClass\n"), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`kubectl apply -f -` did not finish within 1 s, so it was stopped"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
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
