//! katafleet: puts Kata Containers on a fleet of Linux hosts over SSH.
//!
//! A host goes through the stages in this order; each has its own module:
//! the inventory says what is wanted, facts say what is there (one round
//! trip), assess judges whether the host can run Kata, plan is the pure
//! difference, script turns plans and probes into shell (and reads what the
//! shell prints), apply sends a script, verify proves the result.
//! `run` drives many hosts through those stages, `report` prints the
//! outcome, `transport` reaches a host, `release` is the Kata release itself.

// One module style: a module with children is a folder with mod.rs.
#![deny(clippy::self_named_module_files)]

pub mod inventory;
pub mod facts;
pub mod assess;
pub mod plan;
pub mod script;
pub mod apply;
pub mod verify;

pub mod run;
pub mod report;
pub mod transport;
pub mod release;
pub mod kubernetes;
pub mod redact;

pub mod cli;
pub mod exit;
pub mod commands;
