//! Feeding stdin and draining stdout/stderr of a running script, shared by
//! both transports.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;

use super::{Payload, ScriptOutput, Settings, TransportError};

const PAYLOAD_CHUNK: usize = 1 << 20;

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
            // Large reads: tokio's file I/O goes through the blocking pool, and
            // its default 8 KiB chunks made that hand-off the controller's
            // main CPU cost when streaming a release to many hosts.
            let mut file = tokio::fs::File::open(&p.path).await?;
            file.set_max_buf_size(PAYLOAD_CHUNK);
            let mut reader = tokio::io::BufReader::with_capacity(PAYLOAD_CHUNK, file);
            tokio::io::copy_buf(&mut reader, &mut stdin).await?;
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
