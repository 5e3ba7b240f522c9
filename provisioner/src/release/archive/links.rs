//! Where a link in a release archive really points once extracted: a
//! symlink's target is read relative to the link's own directory and
//! followed through the archive's other symlinks, as the kernel would
//! follow them on the host.
//!
//! The rule is stricter than "ends up inside": a path may never pass
//! through anything but `/`, `/opt` and `/opt/kata` and below. Outside
//! those, `..` depends on the host's own symlinks (`/var/run` is one on
//! most distributions), which the controller cannot know.

use std::collections::HashMap;

/// Symlinks followed while resolving one path, like Linux's MAXSYMLINKS.
const MAX_HOPS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Inside(String),
    /// Where it left /opt/kata (the path so far).
    Escapes(String),
    Loop,
}

/// The archive's symlinks: normalised entry path → target as written.
#[derive(Debug, Default)]
pub struct Symlinks(HashMap<String, String>);

impl Symlinks {
    pub fn insert(&mut self, entry: &str, target: &str) {
        self.0.insert(normal(entry), target.to_string());
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// Where symlink `entry` leads, following every link on the way
    /// (including the last).
    pub fn resolve_link(&self, entry: &str, target: &str) -> Resolved {
        let mut dir: Vec<String> = split(&normal(entry));
        dir.pop();
        self.walk(dir, target, true)
    }

    /// Where archive path `path` is once the links in its parents are
    /// followed (the last component is not: `link(2)` does not follow it).
    pub fn resolve_path(&self, path: &str) -> Resolved {
        self.walk(Vec::new(), &normal(path), false)
    }

    fn walk(&self, start: Vec<String>, path: &str, follow_last: bool) -> Resolved {
        let mut at = if path.starts_with('/') {
            Vec::new()
        } else {
            start
        };
        // Components still to visit, in reverse so pop() yields the next.
        let mut todo: Vec<String> = split(path).into_iter().rev().collect();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    at.pop();
                    continue;
                }
                _ => at.push(part),
            }
            if !on_the_way(&at) {
                return Resolved::Escapes(format!("/{}", at.join("/")));
            }
            let is_last = todo.is_empty();
            if is_last && !follow_last {
                break;
            }
            if let Some(target) = self.0.get(&at.join("/")) {
                hops += 1;
                if hops > MAX_HOPS {
                    return Resolved::Loop;
                }
                at.pop();
                if target.starts_with('/') {
                    at.clear();
                }
                todo.extend(split(target).into_iter().rev());
            }
        }
        if at.len() >= 2 {
            Resolved::Inside(format!("/{}", at.join("/")))
        } else {
            Resolved::Escapes(format!("/{}", at.join("/")))
        }
    }
}

/// `/`, `/opt`, or `/opt/kata` and below.
fn on_the_way(at: &[String]) -> bool {
    match at {
        [] => true,
        [first] => first == "opt",
        [first, second, ..] => first == "opt" && second == "kata",
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

/// `./opt/kata//bin/` → `opt/kata/bin`.
pub fn normal(path: &str) -> String {
    split(path)
        .into_iter()
        .filter(|p| p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, &str)]) -> Symlinks {
        let mut s = Symlinks::default();
        for (e, t) in pairs {
            s.insert(e, t);
        }
        s
    }

    #[test]
    fn relative_targets_start_in_the_links_directory() {
        let s = Symlinks::default();
        assert_eq!(
            s.resolve_link(
                "opt/kata/share/defaults/kata-containers/configuration.toml",
                "runtime-rs/configuration-qemu-runtime-rs.toml"
            ),
            Resolved::Inside(
                "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml"
                    .into()
            )
        );
        assert_eq!(
            s.resolve_link("opt/kata/bin/x", "../../kata/libexec/y"),
            Resolved::Inside("/opt/kata/libexec/y".into())
        );
        assert!(matches!(
            s.resolve_link("opt/kata/bin/x", "../../../etc/shadow"),
            Resolved::Escapes(_)
        ));
    }

    /// Each link alone looks harmless; followed one through the other, the
    /// second climbs out: `up` is /opt/kata, so `up/../..` is `/`.
    #[test]
    fn chains_are_followed_through_the_archives_other_links() {
        let s = links(&[("opt/kata/x/up", ".."), ("opt/kata/x/l", "up/../etc")]);
        assert_eq!(
            s.resolve_link("opt/kata/x/up", ".."),
            Resolved::Inside("/opt/kata".into())
        );
        assert!(matches!(
            s.resolve_link("opt/kata/x/l", "up/../etc"),
            Resolved::Escapes(_)
        ));
        let s = links(&[("opt/kata/a", "b"), ("opt/kata/b", "/etc")]);
        assert!(matches!(
            s.resolve_link("opt/kata/a", "b"),
            Resolved::Escapes(_)
        ));
    }

    #[test]
    fn loops_are_refused() {
        let s = links(&[("opt/kata/a", "b"), ("opt/kata/b", "a")]);
        assert_eq!(s.resolve_link("opt/kata/a", "b"), Resolved::Loop);
    }

    #[test]
    fn a_detour_through_the_hosts_own_directories_counts_as_leaving() {
        let s = Symlinks::default();
        assert!(matches!(
            s.resolve_link("opt/kata/a", "/var/run/../opt/kata/b"),
            Resolved::Escapes(_)
        ));
        assert_eq!(
            s.resolve_link("opt/kata/a", "/opt/kata/../kata/b"),
            Resolved::Inside("/opt/kata/b".into())
        );
    }

    #[test]
    fn paths_are_resolved_through_the_links_in_their_parents() {
        let s = links(&[("opt/kata/d", "/etc")]);
        assert!(matches!(
            s.resolve_path("opt/kata/d/passwd"),
            Resolved::Escapes(_)
        ));
        assert_eq!(
            s.resolve_path("opt/kata/d"),
            Resolved::Inside("/opt/kata/d".into())
        );
    }
}
