//! One round trip: the probe (and whatever the caller runs after it in the
//! same script), parsed into facts plus the rest of what the script said.

use super::{split_probe, HostFacts, ParseError};
use crate::inventory::Desired;
pub use crate::script::probe::Purpose;
use crate::script::wire::Output;
use crate::transport::{ScriptOutput, Transport, TransportError};

/// The facts, what `extra` reported, and the raw output for the host's log.
#[derive(Debug)]
pub struct Gathered {
    pub facts: HostFacts,
    pub rest: Output,
    pub raw: ScriptOutput,
}

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{source}{}", stderr_suffix(.stderr))]
    Parse {
        source: ParseError,
        stderr: String,
        raw: ScriptOutput,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    match stderr.trim() {
        "" => String::new(),
        s => format!(": {s}"),
    }
}

/// Runs the probe (reading as deep as `depth` says), then `extra`, in one script.
pub async fn gather(
    t: &dyn Transport,
    desired: &Desired,
    purpose: Purpose,
    extra: &str,
) -> Result<Gathered, GatherError> {
    let raw = t
        .run(
            &crate::script::probe::script(desired, purpose, extra),
            None,
            None,
        )
        .await?;
    match read(&raw.stdout) {
        Ok((facts, rest)) => Ok(Gathered { facts, rest, raw }),
        Err(source) => Err(GatherError::Parse {
            source,
            stderr: raw.stderr.clone(),
            raw,
        }),
    }
}

fn read(stdout: &str) -> Result<(HostFacts, Output), ParseError> {
    let (facts, rest) = split_probe(super::parse::markers(stdout)?)?;
    Ok((facts, Output::from_markers(rest)))
}
