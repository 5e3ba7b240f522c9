//! Gathering facts for the run: the probe's one round trip, with what the
//! host printed kept in its log (also when it broke off).

use crate::facts::gather::{GatherError, Purpose};
use crate::facts::{self, HostFacts};
use crate::inventory::Desired;
use crate::run::log::HostLog;
use crate::script::wire::Output;
use crate::transport::Transport;

/// Runs the probe (one round trip) and parses its output.
pub async fn gather(
    t: &dyn Transport,
    desired: &Desired,
    purpose: Purpose,
    log: &HostLog,
) -> Result<HostFacts, String> {
    gather_with(t, desired, purpose, log, "")
        .await
        .map(|(facts, _)| facts)
}

/// The probe, then `extra` in the same script (still one round trip); the
/// raw output goes to the host's log. Returns the facts and what `extra` reported.
pub async fn gather_with(
    t: &dyn Transport,
    desired: &Desired,
    purpose: Purpose,
    log: &HostLog,
    extra: &str,
) -> Result<(HostFacts, Output), String> {
    let logged = |raw: &crate::transport::ScriptOutput| {
        log.section("facts", &raw.stdout);
        if !raw.stderr.trim().is_empty() {
            log.section("facts stderr", &raw.stderr);
        }
    };
    match facts::gather::gather(t, desired, purpose, extra).await {
        Ok(g) => {
            logged(&g.raw);
            Ok((g.facts, g.rest))
        }
        Err(e) => {
            match &e {
                GatherError::Parse { raw, .. } => logged(raw),
                // A deadline or a lost connection: what came until then.
                GatherError::Transport(t) => {
                    if let Some(raw) = t.partial() {
                        log.section("facts (until it broke off)", &raw.stdout);
                        log.section("facts stderr (until it broke off)", &raw.stderr);
                    }
                }
            }
            Err(e.to_string())
        }
    }
}
