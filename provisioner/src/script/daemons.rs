//! What `status` asks the running daemons, after the probe in one script.

pub const STATUS: &str = include_str!("daemons.sh");
