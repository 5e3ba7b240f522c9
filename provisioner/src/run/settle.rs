//! Settling a host's transaction after apply: committed once verified (on
//! NixOS over a fresh connection), put back otherwise, and a NixOS
//! activation an earlier run left pending settled before anything else.

use crate::apply;
use crate::facts::gather::Purpose;
use crate::facts::HostFacts;
use crate::inventory::Host;
use crate::plan::Plan;
use crate::run::error::HostError;
use crate::run::gather::gather;
use crate::run::log::HostLog;
use crate::run::pipeline::{purpose, HostReport, HostStatus, Run};
use crate::script;
use crate::transport::Transport;

impl Run {
    /// A verified NixOS activation becomes the boot default, which must not
    /// fail quietly. The commit goes over a fresh SSH connection: a new
    /// system that broke sshd is found here, while the old connection still
    /// works to put the previous one back. Either way the host-side deadline
    /// is disarmed (or, should this not reach the host, fires).
    pub(super) async fn commit_nixos(
        &self,
        t: &dyn Transport,
        host: &Host,
        log: &HostLog,
        report: &mut HostReport,
    ) -> Result<(), HostError> {
        self.stage(&host.name, "committing over a fresh connection");
        let fresh = match self.connector.connect(host).await {
            Ok(fresh) => fresh,
            Err(e) => {
                self.put_back(t, host, log, report).await;
                return Err(HostError::Activate(format!(
                    "the host is verified, but a fresh SSH connection to it failed after the activation, so the new system may lock the next run out ({e}); it is not committed"
                )));
            }
        };
        let (committed, message) = self
            .finish(fresh.as_ref(), log, script::commit_script())
            .await;
        fresh.close().await;
        if committed {
            return Ok(());
        }
        Err(HostError::Activate(format!(
            "the host is verified and ran the new system, but committing it failed: {}",
            message.unwrap_or_default()
        )))
    }

    /// Reverts the run's transaction: `rolled-back`, or a warning saying why not.
    pub(super) async fn put_back(
        &self,
        t: &dyn Transport,
        host: &Host,
        log: &HostLog,
        report: &mut HostReport,
    ) {
        self.stage(&host.name, "putting the previous state back");
        match self.finish(t, log, script::revert_script()).await {
            (true, _) => report.status = HostStatus::RolledBack,
            (false, why) => {
                report.warnings.push(format!(
                    "putting the previous state back failed: {}",
                    why.unwrap_or_default()
                ));
            }
        }
    }

    /// Sends a commit or revert script; whether it worked, and why not.
    pub(super) async fn finish(
        &self,
        t: &dyn Transport,
        log: &HostLog,
        body: String,
    ) -> (bool, Option<String>) {
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        match apply::run_script(t, body, None, events).await {
            Ok(outcome) => {
                log.section("settle", &outcome.output.stdout);
                match outcome.failure() {
                    Some((_, message)) => (false, Some(message)),
                    None => (true, None),
                }
            }
            Err(broken) => {
                log.section("settle (until it broke off)", &broken.outcome.output.stdout);
                (false, Some(broken.to_string()))
            }
        }
    }

    /// Applies a plan that settles a pending NixOS activation; what it did,
    /// and the facts gathered right after it (same round trip).
    pub(super) async fn settle(
        &self,
        t: &dyn Transport,
        host: &Host,
        log: &HostLog,
        plan: &Plan,
    ) -> Result<(String, HostFacts), HostError> {
        self.stage(&host.name, "settling a pending NixOS activation");
        let outcome = self
            .apply(
                t,
                host,
                plan,
                None,
                &script::probe::body(&host.desired, purpose(self.planner)),
            )
            .await
            .map_err(|broken| {
                log.section(
                    "settle pending NixOS activation (until it broke off)",
                    &broken.outcome.output.stdout,
                );
                let names: Vec<String> = plan.changes.iter().map(|c| c.reason.clone()).collect();
                HostError::Activate(broken.message(&names))
            })?;
        log.section("settle pending NixOS activation", &outcome.output.stdout);
        if let Some((_, message)) = outcome.failure() {
            return Err(HostError::Activate(message));
        }
        let message = outcome
            .steps
            .first()
            .map(|s| s.message.clone())
            .unwrap_or_default();
        let after = match outcome.after_facts() {
            Some(parsed) => {
                parsed.map_err(|e| HostError::Facts(format!("facts after settling: {e}")))?
            }
            None => gather(t, &host.desired, Purpose::Plan, log)
                .await
                .map_err(HostError::Facts)?,
        };
        Ok((message, after))
    }
}
