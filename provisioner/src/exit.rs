//! How a run ends: one exit status for every command, and the one printer
//! of errors that reach the top (`error:`, each `caused by:`, a `hint:`).

use std::fmt::Write as _;

/// The process exit status. The codes are part of the interface (README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// Every host is fine.
    Ok,
    /// Some host failed, was unreachable, or fell short of a check.
    HostFailed,
    /// Bad usage or a bad inventory; no host was contacted.
    Usage,
    /// katafleet itself failed (cannot write its logs, a bug...).
    Internal,
    /// Ctrl-C or SIGTERM stopped the run before every host was done.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::HostFailed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Internal => 3,
            // 128 + SIGINT, as shells report a process Ctrl-C stopped.
            ExitStatus::Interrupted => 130,
        }
    }

    /// `HostFailed` when any host fell short, else `Ok`.
    pub fn hosts(any_failed: bool) -> Self {
        if any_failed {
            ExitStatus::HostFailed
        } else {
            ExitStatus::Ok
        }
    }
}

/// The error, every cause under it, and what to do when katafleet knows.
pub fn render_error(error: &anyhow::Error) -> String {
    let mut out = format!("error: {error}\n");
    for cause in error.chain().skip(1) {
        let _ = writeln!(out, "caused by: {cause}");
    }
    if let Some(hint) = hint(error) {
        let _ = writeln!(out, "hint: {hint}");
    }
    out
}

fn hint(error: &anyhow::Error) -> Option<&'static str> {
    let io = error
        .chain()
        .find_map(|c| c.downcast_ref::<std::io::Error>())?;
    match io.kind() {
        std::io::ErrorKind::PermissionDenied => Some(
            "katafleet cannot write there; pass --log-dir (or --cache-dir) to a directory you own",
        ),
        std::io::ErrorKind::StorageFull => Some("free some space on the controller"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_are_the_documented_ones() {
        let all = [
            ExitStatus::Ok,
            ExitStatus::HostFailed,
            ExitStatus::Usage,
            ExitStatus::Internal,
            ExitStatus::Interrupted,
        ];
        assert_eq!(all.map(ExitStatus::code), [0, 1, 2, 3, 130]);
        assert_eq!(ExitStatus::hosts(true), ExitStatus::HostFailed);
    }

    #[test]
    fn causes_and_hints_are_printed_under_the_error() {
        let e = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
            .context("cannot create the run's log directory")
            .unwrap_err();
        let text = render_error(&e);
        assert!(text.starts_with("error: cannot create the run's log directory\ncaused by: permission denied\nhint: "), "{text}");
    }
}
