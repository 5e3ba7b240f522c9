//! Feeding stdin and draining stdout/stderr of a running script, shared by
//! both transports.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;

use super::{Payload, ScriptOutput, Settings, TransportError};

/// One buffer of this size per host streaming the release: large enough
/// that the hand-off to the blocking pool costs little CPU, small enough
/// that 50 hosts at once add a few MiB, not the 100 MiB that tokio's file
/// buffer plus a `BufReader` of 1 MiB each did.
const PAYLOAD_CHUNK: usize = 256 << 10;

/// Copies the file at `path` to `to` through one reused buffer. Each read
/// runs on the blocking pool (tokio's own file reads come in 8 KiB pieces
/// there, whose hand-offs were once the controller's main CPU cost).
async fn send_file<W: AsyncWrite + Unpin>(
    path: &std::path::Path,
    to: &mut W,
) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; PAYLOAD_CHUNK];
    loop {
        let (back_file, back_buf, read) = tokio::task::spawn_blocking(move || {
            let read = file.read(&mut buf);
            (file, buf, read)
        })
        .await
        .map_err(std::io::Error::other)?;
        (file, buf) = (back_file, back_buf);
        match read {
            Ok(0) => return Ok(()),
            Ok(n) => to.write_all(&buf[..n]).await?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Drives a started script to completion within the step timeout: feeds
/// stdin, drains both outputs, then awaits `wait` for the exit code. When
/// the deadline passes or the channel breaks, the error carries what the
/// script had printed by then.
pub async fn complete<I, O, E, W>(
    settings: &Settings,
    pipes: (Option<I>, Option<O>, Option<E>),
    script: &str,
    payload: Option<&Payload>,
    lines: Option<UnboundedSender<String>>,
    wait: W,
) -> Result<ScriptOutput, TransportError>
where
    I: AsyncWrite + Unpin,
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
    W: std::future::Future<Output = Result<Option<i32>, String>>,
{
    let host = settings.host.clone();
    let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
        return Err(TransportError::Spawn {
            host,
            reason: "no pipes".into(),
        });
    };
    let (mut out, mut err) = (String::new(), String::new());
    let limit = settings.step_timeout;
    let finished = {
        let work = async {
            drive(
                stdin,
                stdout,
                stderr,
                script,
                payload,
                lines,
                (&mut out, &mut err),
            )
            .await;
            wait.await
        };
        // On timeout the work is dropped here, which ends its borrows.
        tokio::time::timeout(limit, work).await
    };
    let partial = |stdout, stderr| ScriptOutput {
        stdout,
        stderr,
        exit_code: None,
    };
    match finished {
        Err(_) => Err(TransportError::Timeout {
            host,
            secs: limit.as_secs(),
            partial: partial(out, err),
        }),
        Ok(Err(reason)) => Err(TransportError::Io {
            host,
            reason,
            partial: partial(out, err),
        }),
        Ok(Ok(exit_code)) => Ok(ScriptOutput {
            stdout: out,
            stderr: err,
            exit_code,
        }),
    }
}

/// Writes script then payload to stdin while collecting stdout (forwarding each
/// line) and stderr into `into`, as they come. A stdin error is returned
/// after output is drained, since the script's own output usually says more.
pub async fn drive<I, O, E>(
    stdin: I,
    stdout: O,
    stderr: E,
    script: &str,
    payload: Option<&Payload>,
    lines: Option<UnboundedSender<String>>,
    into: (&mut String, &mut String),
) -> Option<std::io::Error>
where
    I: AsyncWrite + Unpin,
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let (out, err) = into;
    let feed = async move {
        let mut stdin = stdin;
        stdin.write_all(script.as_bytes()).await?;
        if let Some(p) = payload {
            send_file(&p.path, &mut stdin).await?;
        }
        stdin.shutdown().await?;
        Ok::<(), std::io::Error>(())
    };
    let read_out = async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Some(tx) = &lines {
                let _ = tx.send(line.clone());
            }
            out.push_str(&line);
            out.push('\n');
        }
    };
    let read_err = async move {
        // Chunk by chunk, so what came before a deadline is kept.
        let mut stderr = stderr;
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stderr, &mut buf).await {
            if n == 0 {
                break;
            }
            err.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    let (fed, (), ()) = tokio::join!(feed, read_out, read_err);
    fed.err()
}
