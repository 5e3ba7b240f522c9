//! The fleet tests: the real binary against real hosts (systemd-nspawn
//! machines from vm-tests/fleet, reached over SSH). They need root; without
//! it, or with KATAFLEET_NO_FLEET=1, each prints `SKIPPED: <reason>`, except
//! in CI, where a fleet that cannot run is a failure.

#[macro_use]
mod common;

mod check;
mod debug;
mod faults;
mod hostile;
mod nixos;
mod probe;
mod provision;
mod rollout;
mod runtimes;
mod safety;
mod scale;
mod status;
mod uninstall;
mod upgrade;
mod verify;
