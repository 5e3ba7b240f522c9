//! A Ctrl-C at a chosen moment, against replayed hosts: an apply in flight
//! finishes and later hosts never start; a release download does not hold
//! the interrupt up; a host interrupted after its facts gets no changes.

use super::*;

/// A connector whose sessions raise `interrupt` when they are sent a script
/// containing `when`, as a Ctrl-C at that moment would.
struct InterruptWhen {
    inner: ReplayConnector,
    when: &'static str,
    interrupt: Interrupt,
}

struct Raising {
    inner: Box<dyn Transport>,
    when: &'static str,
    interrupt: Interrupt,
}

#[async_trait::async_trait]
impl Connector for InterruptWhen {
    async fn connect(&self, host: &Host) -> Result<Box<dyn Transport>, TransportError> {
        Ok(Box::new(Raising {
            inner: self.inner.connect(host).await?,
            when: self.when,
            interrupt: self.interrupt.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl Transport for Raising {
    async fn run(
        &self,
        script: &str,
        payload: Option<&Payload>,
        lines: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<ScriptOutput, TransportError> {
        if script.contains(self.when) {
            self.interrupt.set();
        }
        self.inner.run(script, payload, lines).await
    }

    async fn close(self: Box<Self>) {
        self.inner.close().await
    }
}

/// h1 then h2 (one at a time), interrupted when h1 is sent `when`.
async fn interrupted(when: &'static str, h1: Vec<Exchange>) -> Vec<HostReport> {
    let dir = tempfile::tempdir().unwrap();
    let interrupt = Interrupt::never();
    let connector = Arc::new(InterruptWhen {
        inner: ReplayConnector::new()
            .host("h1", h1)
            .host("h2", vec![probe(PROVISIONED)]),
        when,
        interrupt: interrupt.clone(),
    });
    let (progress, _drawing) = progress::start(&[], true);
    let run = Arc::new(Run {
        mode: Mode::Provision,
        planner: Planner::Provision,
        options: PlanOptions { force: true },
        parallel: 1,
        assets: Arc::new(AssetStore::new(dir.path().join("cache"))),
        log: RunLog::create(&dir.path().join("logs")).unwrap(),
        progress,
        connector,
        interrupt,
    });
    run.all(vec![host("h1"), host("h2")]).await
}

#[tokio::test]
async fn an_apply_in_flight_when_interrupted_finishes_and_later_hosts_never_start() {
    let after = format!(
        "@@begin 1\n@@step 1 changed configured and restarted containerd\n@@after-facts\n{}",
        converged()
    );
    let reports = interrupted("kf_begin 1", vec![probe(PROVISIONED), apply(&after, 0)]).await;
    let got: Vec<_> = reports.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            (HostStatus::Changed, None),
            (HostStatus::Skipped, some("not started: interrupted")),
        ]
    );
    assert_eq!(failed_at(&reports[1]), Some((Stage::Interrupted, None)));
}

#[tokio::test]
async fn an_interrupt_does_not_wait_for_a_release_download() {
    // A mirror that accepts and does not answer for 5 s (the download's
    // own deadline would be a minute).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/{{asset}}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(std::time::Duration::from_secs(5));
        drop(held);
    });
    let fresh = include_str!("../../../tests/fixtures/facts/debian12-nspawn.txt");
    let mut h = host("h1");
    h.desired.kata.source = url;
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(ReplayConnector::new().host("h1", vec![probe(fresh)]));
    let mut run = run(Mode::Provision, &connector, dir.path());
    let interrupt = Interrupt::never();
    Arc::get_mut(&mut run).expect("not shared yet").interrupt = interrupt.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        interrupt.set();
    });
    let started = std::time::Instant::now();
    let reports = run.all(vec![h]).await;
    assert_eq!(
        outcome(&reports[0]),
        (
            HostStatus::Skipped,
            some("interrupted before any change: the facts were gathered, nothing was applied")
        )
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "waited for the download: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_host_interrupted_after_its_facts_gets_no_changes() {
    // Only the probe is recorded: an apply script would find no answer.
    let reports = interrupted("@@katafleet-probe", vec![probe(PROVISIONED)]).await;
    assert_eq!(
        outcome(&reports[0]),
        (
            HostStatus::Skipped,
            some("interrupted before any change: the facts were gathered, nothing was applied")
        )
    );
    assert_eq!(reports[1].status, HostStatus::Skipped);
}
