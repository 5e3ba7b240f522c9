//! The only code that writes shell for hosts or reads what that shell prints.

pub mod apply;
pub mod captured;
pub mod nixos;
pub mod proof;
