//! Fetching and caching a release: downloads against a local HTTP server,
//! the cache, limits and tampering.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::release::{Arch, Runtime, Version};

pub fn asset() -> Asset {
    Asset {
        version: Version::new(4, 2, 0),
        runtime: Runtime::Rust,
        arch: Arch::Amd64,
    }
}

/// A small release archive with the runtime-rs shim, zstd-compressed.
pub fn release_bytes(tag: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(tag.len() as u64);
    h.set_mode(0o755);
    b.append_data(
        &mut h,
        "opt/kata/runtime-rs/bin/containerd-shim-kata-v2",
        tag.as_bytes(),
    )
    .unwrap();
    zstd::encode_all(&b.into_inner().unwrap()[..], 3).unwrap()
}

/// A download that serves `body`, counting requests; `up: false` is a
/// server that does not answer.
fn server<'h>(
    body: &[u8],
    hits: &'h AtomicUsize,
    up: bool,
) -> impl Fn(&str) -> Result<Box<dyn Read>, String> + 'h {
    let body = body.to_vec();
    move |_url: &str| {
        hits.fetch_add(1, Ordering::SeqCst);
        if up {
            Ok(Box::new(std::io::Cursor::new(body.clone())) as Box<dyn Read>)
        } else {
            Err("connection refused".into())
        }
    }
}

#[test]
fn a_tampered_cache_file_is_downloaded_again_or_refused_clearly() {
    let body = release_bytes("good");
    let sha = Sha256::of(&body);
    let url = "https://releases.example/{asset}";
    let hits = AtomicUsize::new(0);
    let up = server(&body, &hits, true);
    let cache = tempfile::tempdir().unwrap();

    let first = fetch_with(&asset(), url, &sha, cache.path(), &up).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    fetch_with(&asset(), url, &sha, cache.path(), &up).unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a good cache file is used as is"
    );

    // Same size, other bytes: only the hash can tell.
    std::fs::write(&first.path, release_bytes("evil")).unwrap();
    let again = fetch_with(&asset(), url, &sha, cache.path(), &up).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2, "downloaded again");
    assert_eq!(std::fs::read(&again.path).unwrap(), body);

    std::fs::write(&first.path, release_bytes("evil")).unwrap();
    let down = server(&body, &hits, false);
    let e = fetch_with(&asset(), url, &sha, cache.path(), &down).unwrap_err();
    assert!(matches!(e, FetchError::Tampered { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("does not match its sha256")
            && text.contains("downloading it again failed: connection refused"),
        "{text}"
    );
    assert!(!first.path.exists(), "the tampered file is gone");
}

#[test]
fn a_verified_file_knows_when_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(asset().file_name());
    let body = release_bytes("good");
    std::fs::write(&path, &body).unwrap();
    let f = fetch(
        &asset(),
        path.to_str().unwrap(),
        &Sha256::of(&body),
        dir.path(),
    )
    .unwrap();
    assert!(f.unchanged());
    std::fs::write(&path, release_bytes("evil")).unwrap();
    assert!(!f.unchanged());
}

/// Reads the body of `url` within `limits` into `sink`; the error text.
fn download(
    url: &str,
    limits: &DownloadLimits,
    sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<Sha256, String> {
    let body = http_get_within(url, *limits)?;
    Sha256::of_reader(body, sink).map_err(|e| e.to_string())
}

/// A one-request HTTP server on loopback: `respond` gets the connection
/// once the request headers are read. Returns the URL.
fn serve(respond: impl FnOnce(&mut std::net::TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/asset", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while !seen.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                seen.push(byte[0]);
            }
            respond(&mut conn);
        }
    });
    url
}

fn limits() -> DownloadLimits {
    DownloadLimits {
        connect: Duration::from_secs(2),
        response: Duration::from_secs(2),
        read: Duration::from_secs(1),
        max_bytes: 1000,
    }
}

#[test]
fn a_server_that_stops_sending_fails_the_download_after_the_read_timeout() {
    let url = serve(|conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\nfirst bytes");
        std::thread::sleep(Duration::from_secs(10));
    });
    let started = std::time::Instant::now();
    let err = download(&url, &limits(), |_| Ok(())).unwrap_err();
    assert_eq!(err, "no data arrived for 1 s; the download was given up");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_server_that_never_answers_fails_after_the_response_deadline() {
    let url = serve(|_| std::thread::sleep(Duration::from_secs(10)));
    let limits = DownloadLimits {
        response: Duration::from_secs(1),
        read: Duration::from_secs(5),
        ..limits()
    };
    let err = download(&url, &limits, |_| Ok(())).unwrap_err();
    assert_eq!(err, "timed out (receive response deadline)");
}

#[test]
fn a_release_larger_than_the_cap_is_refused() {
    let announced = serve(|conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
    });
    let err = download(&announced, &limits(), |_| Ok(())).unwrap_err();
    assert!(err.contains("more than 1000 bytes"), "{err}");
    // Without a length, the cap still holds while it streams.
    let streamed = serve(|conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let _ = conn.write_all(&[0u8; 4000]);
    });
    let mut kept = 0;
    let err = download(&streamed, &limits(), |chunk| {
        kept += chunk.len();
        Ok(())
    })
    .unwrap_err();
    assert!(err.contains("more than 1000 bytes"), "{err}");
    assert!(kept <= 1000, "{kept} bytes reached the cache");
}

#[test]
fn a_small_release_downloads_with_its_digest() {
    let url = serve(|conn| {
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    });
    let digest = download(&url, &limits(), |_| Ok(())).unwrap();
    assert_eq!(
        digest.hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
