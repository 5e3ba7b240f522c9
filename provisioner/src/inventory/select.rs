//! `--limit`: pick hosts by name, glob or `@group`, comma-separated.

use globset::Glob;

use super::Host;

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("invalid --limit pattern `{pattern}`: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("--limit `{0}` matches no host in the inventory")]
    NoMatch(String),
}

/// The hosts matching any of the comma-separated patterns (all when None).
pub fn select(hosts: &[Host], limit: Option<&str>) -> Result<Vec<Host>, SelectError> {
    let Some(limit) = limit else {
        return Ok(hosts.to_vec());
    };
    let mut matchers = Vec::new();
    for pattern in limit.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        matchers.push(match pattern.strip_prefix('@') {
            Some(group) => Matcher::Group(group.to_string()),
            None => Matcher::Name(
                Glob::new(pattern)
                    .map_err(|e| SelectError::BadPattern {
                        pattern: pattern.into(),
                        reason: e.to_string(),
                    })?
                    .compile_matcher(),
            ),
        });
    }
    let chosen: Vec<Host> = hosts
        .iter()
        .filter(|h| matchers.iter().any(|m| m.matches(h)))
        .cloned()
        .collect();
    if chosen.is_empty() {
        return Err(SelectError::NoMatch(limit.to_string()));
    }
    Ok(chosen)
}

enum Matcher {
    Name(globset::GlobMatcher),
    Group(String),
}

impl Matcher {
    fn matches(&self, host: &Host) -> bool {
        match self {
            Matcher::Name(glob) => glob.is_match(&host.name),
            Matcher::Group(g) => host.groups.iter().any(|hg| hg == g),
        }
    }
}
