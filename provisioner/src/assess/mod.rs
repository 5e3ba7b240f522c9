//! Judging a host from its facts: can it run Kata (readiness), and what is
//! on it now (status).

pub mod readiness;
pub mod status;
