//! Proof after uninstall, from freshly gathered facts: nothing of
//! katafleet's is left to remove, its record is gone, containerd's CRI
//! plugin still loads, and neither daemon lists a handler katafleet took out.

use super::VerifyError;
use crate::facts::manifest::MANIFEST_PATH;
use crate::facts::HostFacts;
use crate::plan::{self, Action, Plan, PlanError, Service};

/// `before` is the uninstall plan that was applied, `again` the plan made
/// afresh from `after` (the facts right after apply): it must be empty.
pub fn after_uninstall(
    after: &HostFacts,
    before: &Plan,
    again: Result<Plan, PlanError>,
) -> Result<(), VerifyError> {
    let again = again?;
    if !again.is_empty() {
        let left: Vec<String> = again.changes.iter().map(|c| c.reason.clone()).collect();
        return Err(VerifyError::Left(left.join("; ")));
    }
    if after
        .footprint
        .state
        .as_ref()
        .is_some_and(|s| s.contains("manifest.json"))
    {
        return Err(VerifyError::Left(format!("{MANIFEST_PATH} is still there")));
    }
    for change in &before.changes {
        let Action::Unwire {
            service,
            health,
            gone,
            ..
        } = &change.action
        else {
            continue;
        };
        match service {
            Service::Containerd => {
                let Some(c) = &after.containerd else { continue };
                if health.cri && c.cri_plugin.as_deref() == Some("error") {
                    return Err(VerifyError::CriBroken);
                }
                if let Some(dump) = &c.dump {
                    if let Some(h) = gone.iter().find(|h| plan::effective_has_runtime(dump, h)) {
                        return Err(VerifyError::StillListed {
                            daemon: "containerd's effective config (`containerd config dump`)",
                            handler: h.clone(),
                        });
                    }
                }
            }
            Service::Docker => {
                let listed = after.docker.as_ref().and_then(|d| d.runtimes.as_ref());
                if let Some(h) = gone.iter().find(|h| listed.is_some_and(|l| l.contains(h))) {
                    return Err(VerifyError::StillListed {
                        daemon: "dockerd (`docker info`)",
                        handler: h.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ContainerdFacts, DockerFacts};
    use crate::plan::{Change, Health, Validation};

    fn unwired(service: Service, gone: &[&str]) -> Plan {
        let mut plan = Plan::default();
        plan.push(Change {
            action: Action::Unwire {
                service,
                files: Vec::new(),
                validation: Validation::None,
                health: Health {
                    handlers: Vec::new(),
                    cri: service == Service::Containerd,
                },
                gone: gone.iter().map(|g| g.to_string()).collect(),
                interim: None,
            },
            reason: String::new(),
            diff: None,
        });
        plan
    }

    fn containerd(dump: &str, cri: &str) -> HostFacts {
        HostFacts {
            containerd: Some(ContainerdFacts {
                dump: Some(dump.into()),
                cri_plugin: Some(cri.into()),
                ..ContainerdFacts::default()
            }),
            ..HostFacts::default()
        }
    }

    const WITH_KATA: &str = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\nruntime_type = \"io.containerd.kata.v2\"\n";
    const WITHOUT: &str = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\nruntime_type = \"io.containerd.runc.v2\"\n";

    #[test]
    fn a_clean_host_passes() {
        let before = unwired(Service::Containerd, &["kata"]);
        let after = containerd(WITHOUT, "ok");
        after_uninstall(&after, &before, Ok(Plan::default())).unwrap();
    }

    #[test]
    fn a_handler_still_in_the_dump_fails() {
        let before = unwired(Service::Containerd, &["kata"]);
        let e = after_uninstall(&containerd(WITH_KATA, "ok"), &before, Ok(Plan::default()))
            .unwrap_err();
        assert!(e.to_string().contains("still has runtime `kata`"), "{e}");
    }

    #[test]
    fn a_broken_cri_plugin_fails() {
        let before = unwired(Service::Containerd, &[]);
        let e = after_uninstall(&containerd(WITHOUT, "error"), &before, Ok(Plan::default()))
            .unwrap_err();
        assert!(matches!(e, VerifyError::CriBroken), "{e}");
    }

    #[test]
    fn dockerd_still_listing_a_runtime_fails() {
        let before = unwired(Service::Docker, &["kata"]);
        let mut after = HostFacts {
            docker: Some(DockerFacts {
                runtimes: Some(vec!["runc".into(), "kata".into()]),
                ..DockerFacts::default()
            }),
            ..HostFacts::default()
        };
        assert!(after_uninstall(&after, &before, Ok(Plan::default())).is_err());
        after.docker.as_mut().unwrap().runtimes = Some(vec!["runc".into()]);
        after_uninstall(&after, &before, Ok(Plan::default())).unwrap();
    }

    #[test]
    fn anything_left_to_remove_or_the_record_fails() {
        let mut left = Plan::default();
        left.push(Change {
            action: Action::RemoveState,
            reason: "remove katafleet's state".into(),
            diff: None,
        });
        let e = after_uninstall(&HostFacts::default(), &Plan::default(), Ok(left)).unwrap_err();
        assert!(e.to_string().contains("remove katafleet's state"), "{e}");
        let mut after = HostFacts::default();
        after.footprint.state = Some(["manifest.json".to_string()].into());
        assert!(after_uninstall(&after, &Plan::default(), Ok(Plan::default())).is_err());
    }
}
