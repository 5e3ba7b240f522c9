use super::*;

fn asset(v: &str, runtime: Runtime, arch: Arch) -> Asset {
    Asset {
        version: v.parse().unwrap(),
        runtime,
        arch,
    }
}

#[test]
fn asset_names_follow_the_release_history() {
    let cases = [
        (
            "3.2.0",
            Runtime::Go,
            Arch::Amd64,
            "kata-static-3.2.0-amd64.tar.xz",
        ),
        (
            "3.20.0",
            Runtime::Rust,
            Arch::Arm64,
            "kata-static-3.20.0-arm64.tar.xz",
        ),
        (
            "3.21.0",
            Runtime::Go,
            Arch::Amd64,
            "kata-static-3.21.0-amd64.tar.zst",
        ),
        (
            "4.0.0",
            Runtime::Go,
            Arch::Amd64,
            "kata-static-4.0.0-amd64.tar.zst",
        ),
        (
            "4.1.0",
            Runtime::Go,
            Arch::Amd64,
            "kata-go-static-4.1.0-amd64.tar.zst",
        ),
        (
            "4.2.0",
            Runtime::Rust,
            Arch::S390x,
            "kata-static-4.2.0-s390x.tar.zst",
        ),
    ];
    for (v, rt, arch, want) in cases {
        assert_eq!(asset(v, rt, arch).file_name(), want, "{v} {rt:?}");
    }
}

#[test]
fn default_source_expands_to_the_github_download_url() {
    let a = asset("4.2.0", Runtime::Rust, Arch::Amd64);
    assert_eq!(
        a.expand(DEFAULT_SOURCE),
        "https://github.com/kata-containers/kata-containers/releases/download/4.2.0/kata-static-4.2.0-amd64.tar.zst"
    );
}

#[test]
fn runtime_rs_shim_lives_in_its_own_bin() {
    let l = Layout::new(Runtime::Rust, Hypervisor::Qemu);
    assert_eq!(l.shim, "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2");
    assert_eq!(
        l.config_file,
        "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml"
    );
    let g = Layout::new(Runtime::Go, Hypervisor::Clh);
    assert_eq!(g.shim, "/opt/kata/bin/containerd-shim-kata-v2");
    assert_eq!(
        g.config_dropin_dir,
        "/opt/kata/share/defaults/kata-containers/config.d"
    );
}

#[test]
fn hypervisors_the_release_does_not_ship_are_refused() {
    let v = |s: &str| s.parse::<Version>().unwrap();
    assert!(check_hypervisor(v("4.2.0"), Runtime::Rust, Hypervisor::Fc).is_err());
    assert!(check_hypervisor(v("4.2.0"), Runtime::Go, Hypervisor::Fc).is_ok());
    assert!(check_hypervisor(v("4.0.0"), Runtime::Go, Hypervisor::Fc).is_ok());
    assert!(check_hypervisor(v("4.0.0"), Runtime::Rust, Hypervisor::Fc).is_ok());
    assert!(check_hypervisor(v("4.2.0"), Runtime::Go, Hypervisor::Dragonball).is_err());
    assert!(check_hypervisor(v("4.0.0"), Runtime::Rust, Hypervisor::Dragonball).is_err());
    assert!(check_hypervisor(v("4.1.0"), Runtime::Rust, Hypervisor::Dragonball).is_ok());
    assert!(check_hypervisor(v("4.2.0"), Runtime::Rust, Hypervisor::Clh).is_ok());
}

#[test]
fn versions_parse_strictly() {
    assert_eq!("4.2.0".parse::<Version>().unwrap(), Version::new(4, 2, 0));
    assert!("v4.2.0".parse::<Version>().is_err());
    assert!("4.2".parse::<Version>().is_err());
    assert!(Version::new(3, 32, 0) < Version::new(4, 0, 0));
}

#[test]
fn uname_maps_to_asset_arch() {
    assert_eq!(Arch::from_uname("x86_64"), Some(Arch::Amd64));
    assert_eq!(Arch::from_uname("aarch64"), Some(Arch::Arm64));
    assert_eq!(Arch::from_uname("riscv64"), None);
}
