//! One module per command family.

pub mod args;
pub mod check;
pub mod debug;
pub mod provision;
pub mod render;
pub mod rollback;
pub mod session;
pub mod status;
pub mod uninstall;
pub mod upgrade;
pub mod verify;
