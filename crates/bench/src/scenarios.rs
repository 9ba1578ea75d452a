//! The five scenarios of issue 3, each against Chatlink and (where it means anything) the
//! baseline, in the same run. Every loop is bounded in count and time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use crate::client::{self, Frame, Stream, check_turn};
use chatlink_test_support::free_port;

use crate::procs::{Chatlink, Proc, Result, bench_child, signal};
use crate::stats::{Better, Row, Target, median, ms, percentile};

pub const QUESTION: &str = "When are you open on Sunday?";

/// The SSE URL of a turn on a link: `(link, turn_id)`.
type SseOf = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;
/// Which link visitor `i` posts to.
type LinkOf = Arc<dyn Fn(usize) -> String + Send + Sync>;
/// The SSE URL of visitor `i`'s turn.
type HeldSseOf = Arc<dyn Fn(usize, &str) -> String + Send + Sync>;

/// One turns run: turns/s, then first-delta p50 and p99, then done p50 and p99.
#[derive(Clone, Copy)]
struct TurnRun {
    rate: f64,
    first_p50: Duration,
    first_p99: Duration,
    done_p50: Duration,
    done_p99: Duration,
}

pub struct Config {
    pub chatlink: std::path::PathBuf,
    pub runs: usize,
    pub visitors: usize,
    pub links: usize,
    pub measure: Duration,
    pub streams: usize,
    pub revoke_streams: usize,
    pub conversations: usize,
    pub messages_per_conversation: usize,
    pub token_links: usize,
    /// Slow or idle clients per round in scenario 6.
    pub hostile: usize,
}

// ---------------------------------------------------------------- 1. turns

#[derive(Default)]
struct TurnStats {
    turns: usize,
    first_delta: Vec<Duration>,
    done: Vec<Duration>,
    resumed: usize,
    inexact: Vec<String>,
}

/// One visitor's turn: POST, then the SSE until `done`; every `resume_every`-th turn drops the
/// stream after two frames and resumes with `Last-Event-ID`.
async fn one_turn(
    http: &reqwest::Client,
    link: &str,
    sse: &(dyn Fn(&str) -> String + Sync),
    conversation: &mut Option<String>,
    resume: bool,
) -> Result<(Instant, Vec<Frame>)> {
    let t0 = Instant::now();
    let posted = client::post(http, link, QUESTION, conversation.as_deref()).await?;
    *conversation = Some(posted.conversation_id);
    let url = sse(&posted.turn_id);
    let mut frames = Vec::new();
    let mut stream = Stream::open(http, &url, None).await?;
    let done = client::read(&mut stream, &mut frames, resume.then_some(2)).await?;
    drop(stream);
    if !done {
        let last = frames.last().map(|f| f.id);
        let mut stream = Stream::open(http, &url, last).await?;
        client::read(&mut stream, &mut frames, None).await?;
    }
    Ok((t0, frames))
}

async fn turn_load(
    http: &reqwest::Client,
    links: &[String],
    sse: SseOf,
    visitors: usize,
    measure: Duration,
) -> Result<(TurnStats, f64)> {
    let warmup = Duration::from_millis(700);
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + measure);
    let mut tasks = Vec::new();
    for v in 0..visitors {
        let (http, link, sse) = (http.clone(), links[v % links.len()].clone(), sse.clone());
        tasks.push(tokio::spawn(async move {
            let mut stats = TurnStats::default();
            let mut conversation = None;
            let mut n = 0usize;
            let sse_of = |turn: &str| sse(&link, turn);
            while Instant::now() < until {
                n += 1;
                let resume = n % 8 == (v % 8);
                let (t0, frames) =
                    one_turn(&http, &link, &sse_of, &mut conversation, resume).await?;
                let Some(end) = frames.last().map(|f| f.at) else {
                    continue;
                };
                if resume {
                    stats.resumed += 1;
                }
                if let Err(e) = check_turn(&frames) {
                    stats.inexact.push(e);
                }
                if t0 >= from && end <= until {
                    stats.turns += 1;
                    if let Some(d) = frames.iter().find(|f| f.event == "delta") {
                        stats.first_delta.push(d.at - t0);
                    }
                    stats.done.push(end - t0);
                }
            }
            Ok::<_, crate::procs::Error>(stats)
        }));
    }
    let mut all = TurnStats::default();
    for t in tasks {
        let s = t.await??;
        all.turns += s.turns;
        all.first_delta.extend(s.first_delta);
        all.done.extend(s.done);
        all.resumed += s.resumed;
        all.inexact.extend(s.inexact);
    }
    let rate = all.turns as f64 / measure.as_secs_f64();
    Ok((all, rate))
}

/// The reply Chatlink's demo gives to [`QUESTION`], as its delta pieces.
async fn probe_reply(http: &reqwest::Client, link: &str) -> Result<Vec<String>> {
    let (_, frames) = one_turn(http, link, &|t| format!("{link}{t}/sse"), &mut None, false).await?;
    check_turn(&frames).map_err(|e| format!("probe turn: {e}"))?;
    Ok(frames
        .iter()
        .filter(|f| f.event == "delta")
        .filter_map(|f| serde_json::from_str::<serde_json::Value>(&f.data).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_owned))
        .collect())
}

pub async fn turns(cfg: &Config, rows: &mut Vec<Row>) -> Result<()> {
    let http = client::http();
    let chatlink = Chatlink::new(&cfg.chatlink)?;
    let server = chatlink.serve()?;
    let mut links = Vec::new();
    for i in 0..cfg.links {
        links.push(chatlink.issue("demo", &format!("v{i}"))?);
    }
    let pieces = probe_reply(&http, &links[0]).await?;
    let pieces_json = serde_json::to_string(&pieces)?;
    let baseline = bench_child("baseline", &["baseline", "--pieces", &pieces_json])?;
    let base_links: Vec<String> = (0..cfg.links)
        .map(|i| format!("{}/chat/b{i}/", baseline.base))
        .collect();
    eprintln!("turns: the reply streams as {} deltas", pieces.len());

    let mut results: [Vec<TurnRun>; 2] = [vec![], vec![]];
    let mut inexact = Vec::new();
    let mut resumed = 0;
    for run in 0..cfg.runs {
        for (which, links) in [(0, &base_links), (1, &links)] {
            let sse: SseOf = Arc::new(|link: &str, turn: &str| format!("{link}{turn}/sse"));
            let (s, rate) = turn_load(&http, links, sse, cfg.visitors, cfg.measure).await?;
            let p = |v: &[Duration], q| percentile(v, q).unwrap_or(Duration::MAX);
            let r = TurnRun {
                rate,
                first_p50: p(&s.first_delta, 50.0),
                first_p99: p(&s.first_delta, 99.0),
                done_p50: p(&s.done, 50.0),
                done_p99: p(&s.done, 99.0),
            };
            eprintln!(
                "turns run {run} {}: {:.0} turns/s, first delta p50 {:.1} ms p99 {:.1} ms, done p50 {:.1} ms p99 {:.1} ms, {} resumed, {} inexact",
                ["baseline", "chatlink"][which],
                r.rate,
                ms(r.first_p50),
                ms(r.first_p99),
                ms(r.done_p50),
                ms(r.done_p99),
                s.resumed,
                s.inexact.len()
            );
            resumed += s.resumed;
            inexact.extend(s.inexact);
            results[which].push(r);
        }
    }
    let med = |which: usize, f: &dyn Fn(&TurnRun) -> f64| {
        median(&results[which].iter().map(f).collect::<Vec<_>>())
    };
    let s = &format!("1. turns ({} visitors, {} links)", cfg.visitors, cfg.links);
    rows.push(
        Row::new(
            s,
            "turns per second",
            "/s",
            Some(med(0, &|r| r.rate)),
            med(1, &|r| r.rate),
            Target::RatioAtLeast(0.35),
        )
        .guard_ratio("turns_per_second", Better::Higher),
    );
    rows.push(Row::new(
        s,
        "POST → first delta, p50",
        "ms",
        Some(med(0, &|r| ms(r.first_p50))),
        med(1, &|r| ms(r.first_p50)),
        Target::None,
    ));
    rows.push(
        Row::new(
            s,
            "POST → first delta, p99",
            "ms",
            Some(med(0, &|r| ms(r.first_p99))),
            med(1, &|r| ms(r.first_p99)),
            Target::RatioAtMost(3.0),
        )
        .guard_ratio("first_delta_p99", Better::Lower),
    );
    rows.push(Row::new(
        s,
        "POST → done, p50",
        "ms",
        Some(med(0, &|r| ms(r.done_p50))),
        med(1, &|r| ms(r.done_p50)),
        Target::None,
    ));
    rows.push(
        Row::new(
            s,
            "POST → done, p99",
            "ms",
            Some(med(0, &|r| ms(r.done_p99))),
            med(1, &|r| ms(r.done_p99)),
            Target::None,
        )
        .guard_ratio("done_p99", Better::Lower),
    );
    rows.push(
        Row::new(
            s,
            &format!("inexact turns (of {resumed} resumed)"),
            "",
            None,
            inexact.len() as f64,
            Target::AtMost(0.0),
        )
        .must_pass(),
    );
    for e in inexact.iter().take(5) {
        eprintln!("inexact turn: {e}");
    }
    baseline.stop();
    server.stop();
    Ok(())
}

// ---------------------------------------------------------------- 2. open streams

struct Held {
    first_at: Option<Instant>,
    ended_at: Option<Instant>,
    done: bool,
}

/// Opens `n` held streams (POST, then the SSE), `width` at a time; each one reports when its first
/// frame came and when it ended.
async fn open_held(
    http: &reqwest::Client,
    n: usize,
    width: usize,
    post_link: LinkOf,
    sse_url: HeldSseOf,
) -> Result<mpsc::UnboundedReceiver<Held>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(width));
    let opened = Arc::new(AtomicUsize::new(0));
    let mut openers = Vec::new();
    for i in 0..n {
        let (http, tx, gate, opened) = (http.clone(), tx.clone(), gate.clone(), opened.clone());
        let (post_link, sse_url) = (post_link.clone(), sse_url.clone());
        openers.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await?;
            let link = post_link(i);
            let posted = client::post(&http, &link, "Hold on", None).await?;
            let mut stream = Stream::open(&http, &sse_url(i, &posted.turn_id), None).await?;
            drop(permit);
            opened.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(async move {
                let mut held = Held {
                    first_at: None,
                    ended_at: None,
                    done: false,
                };
                while let Some(frame) = stream.next().await {
                    let Ok(frame) = frame else { break };
                    held.first_at.get_or_insert(frame.at);
                    held.done |= frame.event == "done";
                }
                held.ended_at = Some(Instant::now());
                let _ = tx.send(held);
            });
            Ok::<_, crate::procs::Error>(())
        }));
    }
    for o in openers {
        o.await??;
    }
    Ok(rx)
}

async fn gate(http: &reqwest::Client, base: &str, action: &str) -> Result<usize> {
    let url = format!("{base}/gate/{action}");
    let res = if action == "holding" {
        http.get(url).send().await?
    } else {
        http.post(url).send().await?
    };
    Ok(res.text().await?.trim().parse().unwrap_or(0))
}

async fn wait_holding(http: &reqwest::Client, base: &str, n: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let holding = gate(http, base, "holding").await?;
        if holding >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {holding} of {n} streams are held after 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Collects `n` reports, up to `timeout`.
async fn collect(rx: &mut mpsc::UnboundedReceiver<Held>, n: usize, timeout: Duration) -> Vec<Held> {
    let mut out = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + timeout;
    while out.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(h)) => out.push(h),
            _ => break,
        }
    }
    out
}

struct StreamRun {
    kib_per_stream: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    delivered: usize,
}

/// How held streams are told to go on: the baseline's gate over HTTP, or SIGUSR1 to Chatlink.
enum Release {
    Gate(String),
    Signal(u32),
}

impl Release {
    async fn send(&self, http: &reqwest::Client, action: &str) -> Result<()> {
        match self {
            Release::Gate(base) => gate(http, base, action).await.map(drop),
            Release::Signal(pid) => signal(*pid),
        }
    }
}

/// Holds `n` streams on `server`, measures the RSS growth, releases one frame to all and times
/// its arrival everywhere, then lets every turn end.
async fn hold_and_release(
    http: &reqwest::Client,
    server: &Proc,
    release: Release,
    n: usize,
    post_link: LinkOf,
    sse_url: HeldSseOf,
) -> Result<StreamRun> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss_kib()?;
    let mut rx = open_held(http, n, 256, post_link, sse_url).await?;
    if let Release::Gate(base) = &release {
        wait_holding(http, base, n).await?;
    }
    // Every turn task reaches its wait; then memory settles.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = server.rss_kib()?;
    let released = Instant::now();
    release.send(http, "release").await?;
    // Nothing ends before the second release, so give every delivery time to land first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    release.send(http, "finish").await?;
    let reports = collect(&mut rx, n, Duration::from_secs(60)).await;
    let delays: Vec<Duration> = reports
        .iter()
        .filter_map(|h| h.first_at)
        .map(|t| t.saturating_duration_since(released))
        .collect();
    let done = reports
        .iter()
        .filter(|h| h.done && h.ended_at.is_some())
        .count();
    if done < n {
        eprintln!("open streams: only {done} of {n} streams ended with done");
    }
    Ok(StreamRun {
        kib_per_stream: (during.saturating_sub(before)) as f64 / n as f64,
        p50: percentile(&delays, 50.0).unwrap_or(Duration::MAX),
        p99: percentile(&delays, 99.0).unwrap_or(Duration::MAX),
        max: percentile(&delays, 100.0).unwrap_or(Duration::MAX),
        delivered: delays.len().min(done),
    })
}

pub async fn open_streams(cfg: &Config, rows: &mut Vec<Row>) -> Result<()> {
    let http = client::http();
    let n = cfg.streams;
    let mut results: [Vec<StreamRun>; 2] = [vec![], vec![]];
    for run in 0..cfg.runs {
        // Baseline: POST, then a held SSE; a fresh process each run so RSS growth is comparable.
        let baseline = bench_child("baseline", &["baseline", "--pieces", "[]"])?;
        let b = baseline.base.clone();
        let (b1, b2) = (b.clone(), b.clone());
        let r = hold_and_release(
            &http,
            &baseline,
            Release::Gate(b),
            n,
            Arc::new(move |i| format!("{b1}/chat/b{}/", i % 100)),
            Arc::new(move |_, turn| format!("{b2}/hold/{turn}/sse")),
        )
        .await?;
        report_streams(run, "baseline", n, &r);
        results[0].push(r);
        baseline.stop();

        let chatlink = Chatlink::new(&cfg.chatlink)?;
        let folder = chatlink.waiting_agent()?;
        // After `serve`: links are built from the address it chose.
        let server = chatlink.serve()?;
        let links: Arc<Vec<String>> = Arc::new(
            (0..100)
                .map(|i| chatlink.issue(folder, &format!("w{i}")))
                .collect::<Result<_>>()?,
        );
        let (l1, l2) = (links.clone(), links.clone());
        let pid = server.pid();
        let r = hold_and_release(
            &http,
            &server,
            Release::Signal(pid),
            n,
            Arc::new(move |i| l1[i % l1.len()].clone()),
            Arc::new(move |i, turn| format!("{}{turn}/sse", l2[i % l2.len()])),
        )
        .await?;
        report_streams(run, "chatlink", n, &r);
        results[1].push(r);
        server.stop();
    }
    let med = |which: usize, f: &dyn Fn(&StreamRun) -> f64| {
        median(&results[which].iter().map(f).collect::<Vec<_>>())
    };
    let s = format!("2. open streams ({n})");
    rows.push(
        Row::new(
            &s,
            "RSS growth per open stream",
            "KiB",
            Some(med(0, &|r| r.kib_per_stream)),
            med(1, &|r| r.kib_per_stream),
            Target::AtMost(16.0),
        )
        .guard_ratio("rss_per_stream", Better::Lower),
    );
    rows.push(Row::new(
        &s,
        "one frame to all: p50",
        "ms",
        Some(med(0, &|r| ms(r.p50))),
        med(1, &|r| ms(r.p50)),
        Target::None,
    ));
    rows.push(
        Row::new(
            &s,
            "one frame to all: p99",
            "ms",
            Some(med(0, &|r| ms(r.p99))),
            med(1, &|r| ms(r.p99)),
            Target::AtMost(250.0),
        )
        .guard_ratio("frame_to_all_p99", Better::Lower),
    );
    rows.push(Row::new(
        &s,
        "one frame to all: last",
        "ms",
        Some(med(0, &|r| ms(r.max))),
        med(1, &|r| ms(r.max)),
        Target::None,
    ));
    rows.push(
        Row::new(
            &s,
            "streams that got the frame and done",
            "",
            Some(med(0, &|r| r.delivered as f64)),
            med(1, &|r| r.delivered as f64),
            Target::AtLeast(n as f64),
        )
        .must_pass(),
    );
    Ok(())
}

fn report_streams(run: usize, who: &str, n: usize, r: &StreamRun) {
    eprintln!(
        "streams run {run} {who}: {n} open, {:.1} KiB each, delivery p50 {:.1} ms p99 {:.1} ms last {:.1} ms, {} complete",
        r.kib_per_stream,
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        r.delivered
    );
}

// ---------------------------------------------------------------- 3. revocation

pub async fn revocation(cfg: &Config, rows: &mut Vec<Row>) -> Result<()> {
    let http = client::http();
    let n = cfg.revoke_streams;
    let chatlink = Chatlink::new(&cfg.chatlink)?;
    let folder = chatlink.waiting_agent()?;
    let server = chatlink.serve()?;
    let (mut closed_ms, mut refused_ms) = (Vec::new(), Vec::new());
    let mut all_closed = true;
    for run in 0..cfg.runs {
        let suffix = format!("r{run}");
        let link = chatlink.issue(folder, &suffix)?;
        let (l1, l2) = (link.clone(), link.clone());
        let mut rx = open_held(
            &http,
            n,
            128,
            Arc::new(move |_| l1.clone()),
            Arc::new(move |_, t| format!("{l2}{t}/sse")),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;

        let t0 = Instant::now();
        let prober = {
            let (http, link) = (http.clone(), link.clone());
            tokio::spawn(async move {
                let deadline = t0 + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(r) = http.get(&link).send().await
                        && r.status() == reqwest::StatusCode::UNAUTHORIZED
                    {
                        return Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                None
            })
        };
        chatlink.cli(
            &[
                "token",
                "revoke",
                &chatlink_core::jid::Jid::web(folder, Some(&suffix))?.to_string(),
            ],
            None,
        )?;
        let reports = collect(&mut rx, n, Duration::from_secs(10)).await;
        let closed = reports
            .iter()
            .filter_map(|h| h.ended_at)
            .max()
            .map(|t| t - t0);
        let refused = prober.await?.map(|t| t - t0);
        // Every new request after that is refused too.
        for _ in 0..20 {
            let res = http
                .post(&link)
                .json(&serde_json::json!({"content": "hi"}))
                .send()
                .await?;
            if res.status() != reqwest::StatusCode::UNAUTHORIZED {
                return Err(format!("a request after revocation got {}", res.status()).into());
            }
        }
        all_closed &= reports.len() == n;
        eprintln!(
            "revocation run {run}: {} of {n} streams closed, last after {:?}; first 401 after {:?}",
            reports.len(),
            closed,
            refused
        );
        closed_ms.push(
            closed
                .filter(|_| reports.len() == n)
                .map(ms)
                .unwrap_or(f64::INFINITY),
        );
        refused_ms.push(refused.map(ms).unwrap_or(f64::INFINITY));
    }
    let s = format!("3. revocation ({n} streams)");
    rows.push(
        Row::new(
            &s,
            "revoke (CLI) → every stream closed",
            "ms",
            None,
            median(&closed_ms),
            Target::AtMost(1000.0),
        )
        .must_pass(),
    );
    rows.push(
        Row::new(
            &s,
            "revoke (CLI) → new requests 401",
            "ms",
            None,
            median(&refused_ms),
            Target::AtMost(1000.0),
        )
        .must_pass(),
    );
    if !all_closed {
        eprintln!("revocation: some streams stayed open");
    }
    server.stop();
    Ok(())
}

// ---------------------------------------------------------------- 4. scale of history

/// Fills a data folder with `links` chat links (through the core, so they are sealed) and
/// `conversations` conversations of `per` messages written straight into SQLite in one
/// transaction (the turn path would take one fsync per turn).
async fn seed(cfg: &Config, chatlink: &Chatlink) -> Result<Vec<(String, String)>> {
    use chatlink_core::app::IssueLink;
    use chatlink_core::secret::SecretBackend;
    use chatlink_core::{App, AppConfig};
    chatlink.cli(&["token", "list"], None)?;
    let mut config = AppConfig::new(chatlink.dir.path(), SecretBackend::File);
    config.seed_demo = false;
    let app = App::open(config)?;
    let started = Instant::now();
    let mut links = Vec::with_capacity(cfg.token_links);
    for i in 1..cfg.token_links {
        let info = app
            .issue_link(IssueLink {
                suffix: Some(format!("s{i}")),
                ..IssueLink::chat("demo")
            })
            .await?;
        links.push((info.id, info.jid, info.url.ok_or("no URL")?));
    }
    drop(app);
    eprintln!(
        "scale: issued {} links in {:.1} s",
        links.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let db = chatlink.dir.path().join("chatlink.db");
    let mut conn = rusqlite::Connection::open(&db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    let mut out = Vec::with_capacity(cfg.conversations);
    let spread = links.len().min(100);
    {
        let mut conv = tx.prepare("INSERT INTO conversations(id, folder, jid, token_id, last_seq, created_at, updated_at) VALUES (?1, 'demo', ?2, ?3, ?4, ?5, ?5)")?;
        let mut turn = tx.prepare("INSERT INTO turns(id, conversation_id, token_id, status, first_seq, created_at, ended_at) VALUES (?1, ?2, ?3, 'ok', ?4, ?5, ?5)")?;
        let mut msg = tx.prepare("INSERT INTO messages(id, conversation_id, turn_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
        let mut frame = tx.prepare("INSERT INTO frames(conversation_id, seq, turn_id, event, data) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let now = chatlink_core::model::now_ms();
        for c in 0..cfg.conversations {
            let (token_id, jid, url) = &links[c % spread];
            let id = chatlink_core::token::random_id();
            let turns = cfg.messages_per_conversation / 2;
            conv.execute(rusqlite::params![
                id,
                jid,
                token_id,
                (turns * 2) as i64,
                now
            ])?;
            for t in 0..turns {
                let turn_id = chatlink_core::token::random_id();
                let seq = (t * 2 + 1) as i64;
                let at = now - ((turns - t) as i64) * 60_000;
                turn.execute(rusqlite::params![turn_id, id, token_id, seq, at])?;
                msg.execute(rusqlite::params![
                    chatlink_core::token::random_id(),
                    id,
                    turn_id,
                    "user",
                    "When are you open on Sunday? I would like to order a cake.",
                    at
                ])?;
                let reply =
                    "We're open Monday to Saturday from 7am to 6pm, and on Sunday from 8am to 2pm.";
                let reply_id = chatlink_core::token::random_id();
                msg.execute(rusqlite::params![
                    reply_id,
                    id,
                    turn_id,
                    "assistant",
                    reply,
                    at
                ])?;
                let message = serde_json::json!({"turn_id": turn_id, "id": reply_id, "role": "assistant", "content": reply, "created_at": "2026-11-01T00:00:00.000Z"});
                frame.execute(rusqlite::params![
                    id,
                    seq,
                    turn_id,
                    "message",
                    message.to_string()
                ])?;
                let done = serde_json::json!({"turn_id": turn_id, "status": "ok"});
                frame.execute(rusqlite::params![
                    id,
                    seq + 1,
                    turn_id,
                    "done",
                    done.to_string()
                ])?;
            }
            out.push((url.clone(), id));
        }
    }
    // The turn path keeps each link's visitor-message count; writing around it, so must this.
    tx.execute(
        "UPDATE tokens SET visitor_messages = (SELECT COUNT(*) FROM conversations c
            JOIN messages m ON m.conversation_id = c.id AND m.role = 'user'
           WHERE c.token_id = tokens.id)",
        [],
    )?;
    tx.commit()?;
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    drop(conn);
    let size = std::fs::metadata(&db)?.len() as f64 / 1048576.0;
    eprintln!(
        "scale: wrote {} conversations of {} messages in {:.1} s ({size:.0} MiB)",
        cfg.conversations,
        cfg.messages_per_conversation,
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// Starts `serve` and times it to the first 200 on a chat page.
async fn time_to_ready(
    http: &reqwest::Client,
    chatlink: &Chatlink,
    token_path: &str,
) -> Result<(Duration, Proc, String)> {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}{token_path}");
    let t0 = Instant::now();
    let server = Proc::start_untracked(chatlink.serve_command(&format!("127.0.0.1:{port}")))?;
    let deadline = t0 + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(&url).send().await
            && r.status() == reqwest::StatusCode::OK
        {
            return Ok((t0.elapsed(), server, base));
        }
        if Instant::now() > deadline {
            return Err("serve was not ready within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn scale(cfg: &Config, rows: &mut Vec<Row>) -> Result<()> {
    // A fresh client per probe: no pooled connection to a server that has gone.
    let chatlink = Chatlink::new(&cfg.chatlink)?;
    let conversations = seed(cfg, &chatlink).await?;
    let path_of = |url: &str| {
        url.find("/chat/")
            .map(|i| url[i..].to_owned())
            .unwrap_or_default()
    };
    let page = path_of(&conversations[0].0);

    let mut ready = Vec::new();
    for _ in 0..5 {
        let http = client::http();
        let (t, server, _) = time_to_ready(&http, &chatlink, &page).await?;
        ready.push(ms(t));
        server.stop();
    }
    let http = client::http();
    let (_, server, base) = time_to_ready(&http, &chatlink, &page).await?;
    let mut latencies = Vec::new();
    let mut state = 0x2545F4914F6CDD1Du64;
    for i in 0..2200 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let (url, id) = &conversations[(state % conversations.len() as u64) as usize];
        let url = format!("{base}{}history?conversation_id={id}", path_of(url));
        let t0 = Instant::now();
        let res = http.get(&url).send().await?;
        let status = res.status();
        let body: serde_json::Value = res.json().await?;
        let took = t0.elapsed();
        let n = body["messages"].as_array().map_or(0, Vec::len);
        if status != reqwest::StatusCode::OK || n != cfg.messages_per_conversation.min(200) {
            return Err(format!("history {url}: {status}, {n} messages").into());
        }
        if i >= 200 {
            latencies.push(took);
        }
    }
    server.stop();

    let mut list = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let out = chatlink.cli(&["token", "list"], None)?;
        list.push(ms(t0.elapsed()));
        let lines = out.lines().count();
        if lines < cfg.token_links {
            return Err(format!(
                "token list printed {lines} lines for {} links",
                cfg.token_links
            )
            .into());
        }
    }
    // The window's links table: every link with its URL (each unsealed) and message count, as
    // the desktop's Links screen loads it, in this process on the same data folder.
    let table = {
        use chatlink_core::secret::SecretBackend;
        use chatlink_core::{App, AppConfig};
        let mut config = AppConfig::new(chatlink.dir.path(), SecretBackend::File);
        config.seed_demo = false;
        let app = App::open(config)?;
        let mut times = Vec::new();
        for _ in 0..5 {
            let t0 = Instant::now();
            let links = app.links_with_urls().await?;
            times.push(ms(t0.elapsed()));
            if links.len() < cfg.token_links {
                return Err(format!(
                    "the links table has {} of {} links",
                    links.len(),
                    cfg.token_links
                )
                .into());
            }
        }
        times
    };
    let total = cfg.conversations * cfg.messages_per_conversation;
    let s = format!(
        "4. scale ({total} messages, {} conversations)",
        cfg.conversations
    );
    rows.push(
        Row::new(
            &s,
            "serve start → first 200 on a chat page",
            "ms",
            None,
            median(&ready),
            Target::AtMost(50.0),
        )
        .guard_value("startup_ms", 5.0),
    );
    rows.push(Row::new(
        &s,
        "history load, p50",
        "ms",
        None,
        ms(percentile(&latencies, 50.0).unwrap_or(Duration::MAX)),
        Target::None,
    ));
    rows.push(
        Row::new(
            &s,
            "history load, p99",
            "ms",
            None,
            ms(percentile(&latencies, 99.0).unwrap_or(Duration::MAX)),
            Target::AtMost(5.0),
        )
        .guard_value("history_p99_ms", 2.0),
    );
    rows.push(
        Row::new(
            &s,
            &format!("`token list` of {} links", cfg.token_links),
            "ms",
            None,
            median(&list),
            Target::AtMost(100.0),
        )
        .guard_value("token_list_ms", 5.0),
    );
    rows.push(
        Row::new(
            &s,
            &format!("window's links table of {} links", cfg.token_links),
            "ms",
            None,
            median(&table),
            Target::AtMost(100.0),
        )
        .guard_value("links_table_ms", 5.0),
    );
    Ok(())
}

// ---------------------------------------------------------------- 5. weight

pub async fn weight(cfg: &Config, rows: &mut Vec<Row>) -> Result<()> {
    let http = client::http();
    let chatlink = Chatlink::new(&cfg.chatlink)?;
    let server = chatlink.serve()?;
    let demo = server
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("Demo chat link: "))
        .ok_or("no demo link printed")?
        .to_owned();
    let page = http.get(&demo).send().await?.bytes().await?;
    // One whole turn, so the idle figure includes what serving a visitor leaves behind.
    probe_reply(&http, &demo).await?;
    let baseline = bench_child("baseline", &["baseline", "--pieces", "[]"])?;
    let _ = http
        .post(format!("{}/chat/b/", baseline.base))
        .body("{}")
        .send()
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = "5. weight";
    rows.push(Row::new(
        s,
        "chat page",
        "KiB",
        None,
        page.len() as f64 / 1024.0,
        Target::None,
    ));
    rows.push(
        Row::new(
            s,
            "idle server RSS",
            "MB",
            Some(baseline.rss_kib()? as f64 / 1024.0),
            server.rss_kib()? as f64 / 1024.0,
            Target::AtMost(40.0),
        )
        .guard_ratio("idle_rss", Better::Lower),
    );
    baseline.stop();
    server.stop();
    Ok(())
}

// ---------------------------------------------------------------- 6. hostile clients

/// Waves of hostile clients in scenario 6.
const HOSTILE_ROUNDS: usize = 5;
/// Chatlink's RSS after the last wave, at most this many times the bare-axum baseline's after
/// the same waves. Under glibc both climb from wave to wave: its arenas keep freed memory and
/// tokio moves connections between threads, so each wave may land in other arenas
/// (docs/benchmarks.md has the measurements, and the allocators tried).
const HOSTILE_VS_BASELINE: f64 = 1.6;

/// Opens `n` connections from 50 loopback addresses (so the per-client cap is not what stops
/// them): every other one sends half a header and stalls, the rest send nothing. They are held
/// until the last is open, then all closed. Returns how long a visitor at another address
/// waited for `/healthz` meanwhile.
async fn hostile_round(addr: std::net::SocketAddr, n: usize) -> Result<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gate = Arc::new(Semaphore::new(512));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let socket = tokio::net::TcpSocket::new_v4().ok()?;
            let from = std::net::Ipv4Addr::new(127, 1, (i % 50) as u8, 1);
            socket.bind((from, 0).into()).ok()?;
            let mut stream = socket.connect(addr).await.ok()?;
            if i % 2 == 0 {
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    .await
                    .ok()?;
            }
            Some(stream)
        }));
    }
    let mut held = Vec::with_capacity(n);
    for t in tasks {
        if let Ok(Some(s)) = t.await {
            held.push(s);
        }
    }
    if held.len() < n * 9 / 10 {
        return Err(format!("only {} of {n} hostile connections opened", held.len()).into());
    }
    let start = Instant::now();
    let mut visitor = tokio::net::TcpStream::connect(addr).await?;
    visitor
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), visitor.read_to_end(&mut answer)).await??;
    let waited = start.elapsed();
    // Any answer is served (the baseline has no /healthz and says 404).
    if !answer.starts_with(b"HTTP/1.1 ") {
        return Err(format!("the visitor got {:?}", String::from_utf8_lossy(&answer)).into());
    }
    drop(held);
    Ok(waited)
}

/// [`HOSTILE_ROUNDS`] waves of `n` hostile clients against `server`: its RSS after each (KiB)
/// and the slowest wait of a visitor meanwhile.
async fn hostile_rounds(server: &Proc, n: usize, who: &str) -> Result<(Vec<f64>, Duration)> {
    let addr: std::net::SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("{who}'s address: {e}"))?;
    let mut rss = Vec::new();
    let mut slowest = Duration::ZERO;
    for round in 0..HOSTILE_ROUNDS {
        let waited = hostile_round(addr, n).await?;
        slowest = slowest.max(waited);
        // Let the server notice every close before it is weighed.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        rss.push(server.rss_kib()? as f64);
        eprintln!(
            "hostile round {round} {who}: {n} slow or idle clients came and went; RSS {:.1} MiB, a visitor waited {:.1} ms",
            rss[round] / 1024.0,
            ms(waited)
        );
    }
    Ok((rss, slowest))
}

pub async fn hostile(cfg: &Config, rows: &mut Vec<Row>) -> Result<()> {
    let n = cfg.hostile;
    let baseline = bench_child("baseline", &["baseline", "--pieces", "[]"])?;
    let (base_rss, base_wait) = hostile_rounds(&baseline, n, "baseline").await?;
    baseline.stop();
    let chatlink = Chatlink::new(&cfg.chatlink)?;
    let server = chatlink.serve()?;
    let (rss, wait) = hostile_rounds(&server, n, "chatlink").await?;
    server.stop();
    let s = format!("6. hostile clients ({n} per wave)");
    for i in 0..HOSTILE_ROUNDS {
        rows.push(Row::new(
            &s,
            &format!("RSS after wave {}", i + 1),
            "MiB",
            Some(base_rss[i] / 1024.0),
            rss[i] / 1024.0,
            Target::None,
        ));
    }
    rows.push(Row::new(
        &s,
        "RSS growth, wave 2 to the last",
        "MiB",
        Some((base_rss[HOSTILE_ROUNDS - 1] - base_rss[1]) / 1024.0),
        (rss[HOSTILE_ROUNDS - 1] - rss[1]) / 1024.0,
        Target::None,
    ));
    rows.push(Row::new(
        &s,
        "RSS after the last wave",
        "MiB",
        Some(base_rss[HOSTILE_ROUNDS - 1] / 1024.0),
        rss[HOSTILE_ROUNDS - 1] / 1024.0,
        Target::RatioAtMost(HOSTILE_VS_BASELINE),
    ));
    rows.push(Row::new(
        &s,
        "a visitor's request during a wave (slowest)",
        "ms",
        Some(ms(base_wait)),
        ms(wait),
        Target::AtMost(1000.0),
    ));
    Ok(())
}
