//! What an inventory value may look like when it ends up on a command line
//! (ssh's, kubectl's) or in a host script. Each check says what is wrong in
//! words a user can act on; `None` means the value is fine. Host scripts
//! still quote every value (`script::quote`): these checks are the first of
//! two walls, and they also stop values that quoting cannot make safe, such
//! as `--all` as a kubectl argument or `-oProxyCommand=...` as ssh's host.

/// Host names become file names (the run's log) and, unless set otherwise,
/// the SSH address and the Kubernetes node name.
pub fn host_name(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 253 {
        return Some(format!(
            "host name `{name}` must be 1 to 253 characters long"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Some(format!(
            "host name `{}` may only use letters, digits, `.`, `_` and `-`",
            name.escape_debug()
        ));
    }
    leading(name, "host name")
}

/// ssh's destination: a DNS name, an IPv4 address or an IPv6 address (with
/// an optional `%zone`). `user@host` and `ssh://` forms are not taken: the
/// user and port have keys of their own.
pub fn address(address: &str) -> Option<String> {
    let ok = !address.is_empty()
        && address.len() <= 253
        && address
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]%".contains(c));
    if !ok {
        return Some(format!(
            "address `{}` is not a host name or IP address (letters, digits, `.`, `-`, `_`, `:`, `[`, `]`, `%`); set the user with `user` and the port with `port`",
            address.escape_debug()
        ));
    }
    leading(address, "address")
}

/// The SSH login user (`ssh -l USER`).
pub fn login_user(user: &str) -> Option<String> {
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if !ok {
        return Some(format!(
            "user `{}` is not a login name (letters, digits, `.`, `_`, `@`, `-`; at most 64)",
            user.escape_debug()
        ));
    }
    leading(user, "user")
}

/// A POSIX user name on the host (`usermod -aG kvm NAME`).
pub fn unix_user(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && name.len() <= 32;
    (!ok).then(|| {
        format!(
            "`{}` is not a valid user name (lowercase letters, digits, `_`, `-`)",
            name.escape_debug()
        )
    })
}

/// A Kubernetes node name is an RFC 1123 subdomain: lowercase letters,
/// digits, `-` and `.`, each dot-separated label starting and ending with a
/// letter or digit, at most 253 characters. Anything else is not a node, and
/// `--all` as `kubectl label node`'s argument would label every node.
pub fn node_name(name: &str) -> Option<String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ok = !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok);
    (!ok).then(|| {
        format!(
            "`{}` is not a Kubernetes node name (an RFC 1123 subdomain: lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)",
            name.escape_debug()
        )
    })
}

/// A path on the controller. It is passed to programs as one argument, never
/// through a shell, but control characters (a newline above all) have no
/// business in it and would break the line-based ssh options it feeds.
pub fn path(key: &str, path: &str) -> Option<String> {
    path.chars()
        .any(char::is_control)
        .then(|| format!("{key} `{}` holds a control character", path.escape_debug()))
}

/// ssh reads `UserKnownHostsFile=PATH` as a config line, where blanks
/// separate file names and quotes are syntax.
pub fn known_hosts_file(path: &str) -> Option<String> {
    if let Some(e) = self::path("known_hosts_file", path) {
        return Some(e);
    }
    path.contains(|c: char| c.is_whitespace() || "\"'\\".contains(c))
        .then(|| {
            format!("known_hosts_file `{path}` may not hold blanks, quotes or backslashes (ssh would split it)")
        })
}

/// An OCI image reference: `[registry[:port]/]name[:tag][@digest]`.
pub fn image(image: &str) -> Option<String> {
    let ok = !image.is_empty()
        && image.len() <= 512
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@+".contains(c));
    if !ok {
        return Some(format!(
            "`{}` is not an image reference (letters, digits and `._-/:@+`)",
            image.escape_debug()
        ));
    }
    leading(image, "image")
}

/// A value with a leading `-` is read as an option by the program it is
/// passed to.
fn leading(value: &str, what: &str) -> Option<String> {
    value
        .starts_with('-')
        .then(|| format!("{what} `{value}` may not start with `-` (it would be read as an option)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values that try to become shell code or options, each in every field.
    pub const HOSTILE: &[&str] = &[
        "$(touch /tmp/pwned)",
        "`touch /tmp/pwned`",
        "a;touch /tmp/pwned",
        "a\ntouch /tmp/pwned",
        "a'b",
        "a\"b",
        "--all",
        "-oProxyCommand=touch /tmp/pwned",
        "a b",
        "a|b",
        "a&b",
        "a>b",
        "",
    ];

    #[test]
    fn hostile_values_are_refused_everywhere_they_could_do_harm() {
        for v in HOSTILE {
            assert!(host_name(v).is_some(), "host name {v:?}");
            assert!(address(v).is_some(), "address {v:?}");
            assert!(login_user(v).is_some(), "user {v:?}");
            assert!(unix_user(v).is_some(), "kvm user {v:?}");
            assert!(node_name(v).is_some(), "node name {v:?}");
            assert!(image(v).is_some(), "image {v:?}");
        }
        assert!(path("identity_file", "/a\nb").is_some());
        for p in ["/a b", "/a\"b", "/a'b", "/a\\b", "/a\nb"] {
            assert!(known_hosts_file(p).is_some(), "{p:?}");
        }
    }

    #[test]
    fn ordinary_values_pass() {
        for n in ["web-1", "gpu_1.example.com", "t1-1"] {
            assert_eq!(host_name(n), None, "{n}");
        }
        for a in [
            "10.0.0.11",
            "web-1.example.com",
            "fe80::1%eth0",
            "[2001:db8::1]",
        ] {
            assert_eq!(address(a), None, "{a}");
        }
        for u in ["root", "ops", "first.last", "svc@corp", "Admin"] {
            assert_eq!(login_user(u), None, "{u}");
        }
        for n in ["node-1", "ip-10-0-0-1.ec2.internal", "a"] {
            assert_eq!(node_name(n), None, "{n}");
        }
        for i in [
            "docker.io/library/busybox:latest",
            "registry.local:5000/busybox:1.36",
            "busybox@sha256:0123abcd",
        ] {
            assert_eq!(image(i), None, "{i}");
        }
        assert_eq!(path("identity_file", "/home/me/my keys/$id"), None);
        assert_eq!(known_hosts_file("/run/fleet/known_hosts"), None);
    }

    #[test]
    fn node_names_follow_rfc_1123() {
        for bad in [
            "Node-1",
            "node_1",
            "-node",
            "node-",
            "a..b",
            ".a",
            "a.",
            &"a".repeat(64),
        ] {
            assert!(node_name(bad).is_some(), "{bad}");
        }
        assert_eq!(node_name(&["a".repeat(63), "b".into()].join(".")), None);
        assert!(node_name("a.".repeat(128).trim_end_matches('.')).is_some());
    }
}
