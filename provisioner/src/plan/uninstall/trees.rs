//! The release trees in /opt: which are katafleet's, and the step that
//! removes them (and brings back a foreign /opt/kata it set aside).

use super::super::{Action, Change, Plan};
use crate::facts::HostFacts;
use crate::release::KATA_ROOT;

/// A foreign /opt/kata that katafleet set aside when it first installed,
/// and its name in /opt.
const FOREIGN_ASIDE: &str = "/opt/kata.katafleet-orig";
pub(super) const ASIDE: &str = "kata.katafleet-orig";

/// Whether /opt/kata is katafleet's: its marker is there, or it is a link
/// into katafleet's releases (`kata-releases/<id>`).
pub(super) fn kata_is_ours(facts: &HostFacts) -> bool {
    facts.footprint.opt.contains("kata")
        && (facts.footprint.kata_marked
            || facts.kata_link.as_deref().is_some_and(|l| {
                l.starts_with("kata-releases/") || l.starts_with("/opt/kata-releases/")
            }))
}

/// The trees under /opt that are katafleet's to remove (absolute paths):
/// /opt/kata when it is katafleet's, the releases, what runs left behind.
pub(super) fn our_trees(facts: &HostFacts) -> Vec<String> {
    let mut trees = Vec::new();
    if kata_is_ours(facts) {
        trees.push(KATA_ROOT.to_string());
    }
    trees.extend(
        facts
            .footprint
            .opt
            .iter()
            .filter(|e| *e == "kata-releases" || *e == ".kata.new" || e.starts_with(".katafleet-"))
            .map(|e| format!("/opt/{e}")),
    );
    trees
}

pub(super) fn remove_trees(
    plan: &mut Plan,
    facts: &HostFacts,
    trees: Vec<String>,
    restore_foreign: bool,
) {
    let fp = &facts.footprint;
    if fp.opt.contains("kata") && !kata_is_ours(facts) {
        plan.noop(
            KATA_ROOT,
            "katafleet did not install it (no .katafleet-release in it): left alone",
        );
        if fp.opt.contains(ASIDE) {
            plan.warnings.push(format!(
                "{FOREIGN_ASIDE} (the /opt/kata katafleet once set aside) stays where it is: /opt/kata is now a tree katafleet did not install"
            ));
        }
    }
    if trees.is_empty() && !restore_foreign {
        return;
    }
    plan.manifest
        .files
        .retain(|p, _| !trees.iter().any(|t| p.starts_with(&format!("{t}/"))));
    let mut reason = Vec::new();
    if trees.iter().any(|t| t == KATA_ROOT) {
        let what = match &facts.kata {
            Some(k) => format!("Kata {}", k.version),
            None => "the Kata release".to_string(),
        };
        reason.push(format!(
            "remove {what}, which katafleet installed: {}",
            trees.join(", ")
        ));
    } else if !trees.is_empty() {
        reason.push(format!(
            "remove what katafleet left in /opt: {}",
            trees.join(", ")
        ));
    }
    if restore_foreign {
        reason.push(format!(
            "put back the /opt/kata katafleet found and set aside ({FOREIGN_ASIDE} becomes /opt/kata again)"
        ));
    }
    plan.push(Change {
        action: Action::RemoveTrees {
            trees,
            restore_foreign,
        },
        reason: reason.join("; "),
        diff: None,
    });
}
