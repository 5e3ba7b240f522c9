//! katafleet: puts Kata Containers on a fleet of Linux hosts over SSH.
//! The shape is facts → plan → apply → verify.

pub mod apply;
pub mod assets;
pub mod captured;
pub mod cli;
pub mod commands;
pub mod debugging;
pub mod diagnostic;
pub mod facts;
pub mod fanout;
pub mod inspect;
pub mod inventory;
pub mod kubernetes;
pub mod manifest;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod proof;
pub mod readiness;
pub mod release;
pub mod report;
pub mod rollout;
pub mod runlog;
pub mod status;
pub mod templates;
pub mod transport;
pub mod verify;
