//! The only module that draws progress: indicatif bars on a TTY, plain lines
//! otherwise. Everything else sends events. Progress goes to stderr.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

#[derive(Debug, Clone)]
pub enum Event {
    /// A host moved to a new stage ("connecting", "facts", a step's name...).
    Stage { host: String, what: String },
    /// A host finished, with a one-word outcome.
    Done { host: String, outcome: String },
}

pub type Sender = UnboundedSender<Event>;

/// Starts the consumer; returns the sender and a handle to await at the end.
pub fn start(hosts: &[String], quiet: bool) -> (Sender, tokio::task::JoinHandle<()>) {
    let (tx, rx) = unbounded_channel();
    let tty = std::io::stderr().is_terminal() && !quiet;
    let hosts = hosts.to_vec();
    let handle = tokio::spawn(async move {
        if tty {
            bars(rx, &hosts).await
        } else if !quiet {
            lines(rx).await
        } else {
            drain(rx).await
        }
    });
    (tx, handle)
}

async fn bars(mut rx: UnboundedReceiver<Event>, hosts: &[String]) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let width = hosts.iter().map(String::len).max().unwrap_or(4);
    let style = ProgressStyle::with_template(&format!("{{spinner}} {{prefix:<{width}}} {{msg}}"))
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    for h in hosts {
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(style.clone());
        bar.set_prefix(h.clone());
        bar.set_message("waiting");
        bar.enable_steady_tick(Duration::from_millis(120));
        bars.insert(h.clone(), bar);
    }
    while let Some(event) = rx.recv().await {
        match event {
            Event::Stage { host, what } => {
                if let Some(b) = bars.get(&host) {
                    b.set_message(crate::redact::text(&what));
                }
            }
            Event::Done { host, outcome } => {
                if let Some(b) = bars.get(&host) {
                    b.finish_with_message(crate::redact::text(&outcome));
                }
            }
        }
    }
    let _ = multi.clear();
}

async fn lines(mut rx: UnboundedReceiver<Event>) {
    while let Some(event) = rx.recv().await {
        match event {
            Event::Stage { host, what } => eprintln!("{host}: {}", crate::redact::text(&what)),
            Event::Done { host, outcome } => {
                eprintln!("{host}: done ({})", crate::redact::text(&outcome))
            }
        }
    }
}

async fn drain(mut rx: UnboundedReceiver<Event>) {
    while rx.recv().await.is_some() {}
}
