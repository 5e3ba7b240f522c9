//! What the inventory hands to ssh beyond the address: a port only when it
//! sets one (so `Port` in the user's ssh config wins), the ProxyJump hops,
//! and an ssh config file. Layering itself is in `layers.rs`.

use toml::Spanned;

use super::diagnostic::Diagnostic;
use super::validator::Validator;

/// `[user@]host[:port]`, comma-separated for several hops, as ssh's
/// ProxyJump takes it. Anything else (spaces, options, shell) is refused
/// here rather than by ssh at connect time, on every host.
pub(super) fn proxy_jump(v: &mut Validator, raw: &Spanned<String>) -> Option<String> {
    let text = raw.get_ref();
    match text.split(',').try_for_each(jump_hop) {
        Ok(()) => Some(text.clone()),
        Err(why) => {
            v.diags.push(
                Diagnostic::new(
                    format!("invalid proxy_jump `{text}`: {why}"),
                    Some(raw.span()),
                )
                .with_help(
                    "write it as ssh's ProxyJump: `user@bastion:22`, several hops comma-separated",
                ),
            );
            None
        }
    }
}

fn jump_hop(hop: &str) -> Result<(), String> {
    let (user, rest) = match hop.rsplit_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, hop),
    };
    if let Some(u) = user {
        let ok = !u.is_empty()
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            return Err(format!("`{u}` is not a user name"));
        }
    }
    // `[v6]:port`, `host:port` or a bare host.
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("`{rest}` has no closing `]`"))?;
        (h, after.strip_prefix(':'))
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
    if !host_ok {
        return Err(format!("`{host}` is not a host name or address"));
    }
    if let Some(p) = port {
        if !p.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(format!("`{p}` is not a port (1..=65535)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::inventory::diagnostic::SourceFile;
    use crate::inventory::{parse, Connection, InventoryError};

    const KATA: &str = "[kata]\nversion = \"4.2.0\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";

    fn load(text: &str) -> Result<Vec<(String, Connection)>, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = SourceFile::new(&dir.path().join("inv.toml"), format!("{KATA}{text}"));
        match parse(&file) {
            Ok(inv) => Ok(inv
                .hosts
                .into_iter()
                .map(|h| (h.name, h.connection))
                .collect()),
            Err(InventoryError::Invalid { rendered, .. }) => Err(rendered),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn no_port_is_passed_unless_the_inventory_sets_one() {
        let hosts = load(
            "[groups.alt]\nport = 2200\n\
             [[hosts]]\nname = \"plain\"\n\
             [[hosts]]\nname = \"grouped\"\ngroups = [\"alt\"]\n\
             [[hosts]]\nname = \"own\"\ngroups = [\"alt\"]\nport = 2222\n",
        )
        .unwrap();
        let ports: Vec<_> = hosts.iter().map(|(n, c)| (n.as_str(), c.port)).collect();
        assert_eq!(
            ports,
            [
                ("plain", None),
                ("grouped", Some(2200)),
                ("own", Some(2222))
            ]
        );
        let with_default = load("[defaults]\nport = 22\n[[hosts]]\nname = \"a\"\n").unwrap();
        assert_eq!(with_default[0].1.port, Some(22));
    }

    #[test]
    fn proxy_jump_and_ssh_config_layer_like_the_other_connection_keys() {
        let hosts = load(
            "[defaults]\nproxy_jump = \"ops@bastion:22\"\nssh_config = \"ssh/config\"\n\
             [groups.far]\nproxy_jump = \"ops@b1,root@[fd00::1]:2222\"\n\
             [[hosts]]\nname = \"a\"\n\
             [[hosts]]\nname = \"b\"\ngroups = [\"far\"]\n\
             [[hosts]]\nname = \"c\"\ngroups = [\"far\"]\nproxy_jump = \"bastion-2\"\n",
        )
        .unwrap();
        let jumps: Vec<_> = hosts
            .iter()
            .map(|(_, c)| c.proxy_jump.as_deref().unwrap())
            .collect();
        assert_eq!(
            jumps,
            ["ops@bastion:22", "ops@b1,root@[fd00::1]:2222", "bastion-2"]
        );
        let config = hosts[0].1.ssh_config.as_ref().unwrap();
        assert!(
            config.is_absolute() && config.ends_with("ssh/config"),
            "{config:?}"
        );
    }

    #[test]
    fn a_bad_proxy_jump_is_located_and_says_what_is_wrong() {
        let e = load(
            "[[hosts]]\nname = \"a\"\nproxy_jump = \"-oProxyCommand=sh\"\n\
             [[hosts]]\nname = \"b\"\nproxy_jump = \"ops@bastion:99999\"\n\
             [[hosts]]\nname = \"c\"\nproxy_jump = \"ops@bast ion\"\n",
        )
        .unwrap_err();
        assert!(e.contains("inv.toml:6:14"), "{e}");
        assert!(e.contains("`-oProxyCommand=sh` is not a host name"), "{e}");
        assert!(e.contains("`99999` is not a port"), "{e}");
        assert!(e.contains("`bast ion` is not a host name"), "{e}");
        assert!(e.contains("user@bastion:22"), "{e}");
    }

    #[test]
    fn handshakes_default_below_sshds_max_startups_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let parse_text = |t: &str| {
            parse(&SourceFile::new(
                &dir.path().join("inv.toml"),
                format!("{KATA}{t}[[hosts]]\nname = \"a\"\n"),
            ))
        };
        assert_eq!(parse_text("").unwrap().handshakes, 8);
        assert_eq!(
            parse_text("[defaults]\nhandshakes = 3\n")
                .unwrap()
                .handshakes,
            3
        );
        let Err(InventoryError::Invalid { rendered, .. }) =
            parse_text("[defaults]\nhandshakes = 0\n")
        else {
            panic!("handshakes = 0 must be refused");
        };
        assert!(
            rendered.contains("handshakes = 0 is out of range"),
            "{rendered}"
        );
    }
}
