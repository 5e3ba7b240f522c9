//! Diagnoses from the check tools' real wording (see tests/fixtures/verify/README.md).

use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/verify/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with("# "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn whats(found: &[Diagnosis]) -> Vec<&str> {
    found.iter().map(|d| d.what.as_str()).collect()
}

#[test]
fn kata_ctl_on_a_container_host_without_kvm() {
    let found = check_output(&fixture("kata-ctl-check-nspawn.txt"));
    assert_eq!(
        whats(&found),
        [
            "no usable /dev/kvm: the device does not exist (kata-ctl: ENOENT)",
            "Hardware virtualization not available (no vmx/svm CPU flag)",
            "kernel module kvm_amd is not loaded",
            "kernel module vhost is not loaded",
            "kernel module vhost_net is not loaded",
            "kernel module vhost_vsock is not loaded",
        ]
    );
    assert!(found[0].fix.contains("nested virtualisation"));
    assert!(found[1]
        .fix
        .starts_with("Hardware virtualization not available: enable VT-x/AMD-V in the BIOS"));
    assert_eq!(
        found[5].fix,
        "modprobe vhost_vsock (provision loads and persists it)"
    );
}

#[test]
fn kata_runtime_on_a_container_host_without_kvm() {
    let found = check_output(&fixture("kata-runtime-check-nspawn.txt"));
    assert_eq!(
        found[0].what,
        "Hardware virtualization not available (no vmx/svm CPU flag)"
    );
    assert!(whats(&found).contains(&"kernel module vhost_vsock is not loaded"));
    let kvm = check_output("time=\"x\" level=error msg=\"cannot open kvm device: no such file or directory\" arch=amd64 check-type=full device=/dev/kvm");
    assert_eq!(
        kvm[0].what,
        "no usable /dev/kvm: the device does not exist (kata-runtime: no such file or directory)"
    );
}

#[test]
fn permission_denied_means_the_kvm_group() {
    let found = check_output(&fixture("kata-ctl-check-eacces.txt"));
    assert_eq!(
        whats(&found),
        ["Permission denied opening /dev/kvm (kata-ctl: EACCES)"]
    );
    assert!(found[0].fix.contains("usermod -aG kvm"));
    let go = check_output(
        "time=\"x\" level=error msg=\"cannot open kvm device: permission denied\" device=/dev/kvm",
    );
    assert!(go[0].what.starts_with("Permission denied opening /dev/kvm"));
}

#[test]
fn a_passing_check_names_nothing() {
    assert!(check_output(&fixture("kata-ctl-check-ok.txt")).is_empty());
    assert!(check_output(&fixture("kata-runtime-check-ok.txt")).is_empty());
}

#[test]
fn busy_kvm_and_non_root_runs() {
    let busy = check_output("ERRO Error { context: \"KVM check failed\", source: \"Another hypervisor is running. KVM_CREATE_VM error: EBUSY\" }");
    assert!(busy[0].what.contains("another hypervisor"), "{busy:?}");
    let user = check_output("ERRO Error { context: \"KVM check failed\", source: \"Will not perform kvm checks as non root user\" }");
    assert!(user[0].what.contains("non-root"), "{user:?}");
}

#[test]
fn container_errors_by_cause() {
    let cases = [
        ("ctr: failed to create shim task: ... Could not access KVM kernel module: No such file or directory", "no usable /dev/kvm"),
        ("failed to launch qemu: exit status 1, error messages from qemu log: qemu-system-x86_64: Could not open '/dev/kvm': Permission denied", "Permission denied opening /dev/kvm"),
        ("ctr: failed to create shim task: hypervisor path /opt/kata/bin/qemu-system-x86_64 does not exist: unknown", "QEMU not found"),
        ("ctr: failed to start shim: failed to resolve runtime path: invalid custom binary path: stat /opt/kata/runtime-rs/bin/containerd-shim-kata-v2: no such file or directory", "the Kata shim was not found"),
        ("docker: Error response from daemon: unknown or invalid runtime name: kata.", "the daemon does not know runtime `kata`"),
        ("ctr: failed to create shim task: Timeout connecting to vsock: deadline has elapsed", "never answered over vsock"),
        ("ctr: failed to resolve reference \"docker.io/library/busybox:latest\": failed to do request: dial tcp: lookup registry-1.docker.io: no such host", "the test image could not be pulled"),
        ("ctr: failed to mount /tmp/containerd-mount3054456374: invalid argument", "snapshotter could not mount"),
        ("ctr: failed to start shim: start failed: katafleet test fixture: containerd-shim-kata-v2 cannot start a sandbox VM: this archive is a test fixture, not a Kata release", "test fixture stand-in"),
        ("something else entirely\nlast words", "ctr could not run a container under `kata`: last words"),
    ];
    for (output, want) in cases {
        let d = container_output(output, "ctr", "kata");
        assert!(d.what.contains(want), "{output}\n=> {d:?}");
    }
}

#[test]
fn command_not_found_gets_the_path_fix() {
    let d = not_found("kata-runtime", "/opt/kata/bin");
    assert_eq!(d.what, "kata-runtime: command not found");
    assert!(d
        .fix
        .contains("ln -sf /opt/kata/bin/kata-runtime /usr/local/bin/kata-runtime"));
}
