//! One module per command family.

pub mod hosts;
pub mod render;
