//! Many hosts at once: the fan-out, each host's pipeline, rollouts in
//! batches, the progress display and the per-host logs.

pub mod error;
pub mod fanout;
pub mod gather;
pub mod host_report;
pub mod inspect;
pub mod interrupt;
pub mod log;
pub mod pipeline;
pub mod progress;
pub mod rollout;
pub mod settle;

#[cfg(test)]
pub(crate) mod tests;
