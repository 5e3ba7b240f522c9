//! One module per command family.

pub mod check;
pub mod common;
pub mod debug;
pub mod hosts;
pub mod render;
pub mod status;
pub mod verify;
