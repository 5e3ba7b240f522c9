//! Everything that needs no host: the CLI's usage and inventory errors,
//! `render`, the golden plans and scripts, the NixOS template. One crate, so
//! one build and one binary.

mod cli;
mod golden;
mod inventory_errors;
mod inventory_fuzz;
mod inventory_hostile;
mod layout;
mod nixos_template;
mod render;
mod test;
