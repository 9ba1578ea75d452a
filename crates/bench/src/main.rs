//! `chatlink-bench`: runs the real `chatlink serve` and a bare-axum baseline side by side under
//! the same load on loopback, and prints a table of both, their ratio and the target. See
//! `bench/RESULTS.md` for the last reported run and what was learned from profiling.

mod baseline;
mod client;
mod gate;
mod guard;
mod procs;
mod scenarios;
mod stats;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::procs::Result;
use crate::scenarios::Config;

#[derive(Parser)]
#[command(
    name = "chatlink-bench",
    about = "Chatlink's server against a bare-axum baseline"
)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,
    /// The `chatlink` binary to measure (a release build with the `bench` feature)
    #[arg(long, default_value = "target/release/chatlink")]
    chatlink: PathBuf,
    /// Runs per scenario; the table shows the median
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of measured load per turns run
    #[arg(long, default_value_t = 4)]
    seconds: u64,
    /// Open streams in scenario 2
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Conversations in scenario 4 (20 messages each)
    #[arg(long, default_value_t = 50_000)]
    conversations: usize,
    /// Links in scenario 4
    #[arg(long, default_value_t = 10_000)]
    links: usize,
    /// Only these scenarios (1–6), comma-separated
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// Write the table into this Markdown file (between its bench markers)
    #[arg(long)]
    out: Option<PathBuf>,
    /// The quick bench of `make test`: 32 visitors, 1,000 streams, 100,000 messages, 2 s runs
    /// (the sizes above are then ignored)
    #[arg(long)]
    quick: bool,
    /// Fail (exit 2) when a guarded number is more than 2x worse than this file records
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
    /// Write this run's guarded numbers to this file as the new baseline
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    record: Option<PathBuf>,
    /// With --check: succeed only if the check finds a slowdown (proves the guard can fail)
    #[arg(long, requires = "check")]
    expect_slowdown: bool,
}

/// Exit status of a run whose guard found a slowdown (errors exit 1).
const SLOWER: i32 = 2;
/// Whole suites a recorded baseline is the median of.
const RECORD_SUITES: usize = 3;

#[derive(Subcommand)]
enum Role {
    /// (internal) Serve the baseline; `--pieces` is the reply's delta pieces as a JSON array
    #[command(hide = true)]
    Baseline {
        #[arg(long)]
        pieces: String,
    },
}

fn main() {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let outcome = runtime.block_on(async {
        match args.role {
            Some(Role::Baseline { ref pieces }) => {
                let pieces: Vec<String> = serde_json::from_str(pieces)?;
                serve_child(baseline::router(pieces)).await?;
                Ok(Verdict::Pass)
            }
            None => bench(&args).await,
        }
    });
    match outcome {
        Ok(Verdict::Pass) => {}
        Ok(Verdict::Slower) => std::process::exit(SLOWER),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

enum Verdict {
    Pass,
    Slower,
}

async fn serve_child(router: axum::Router) -> Result<()> {
    raise_fd_limit(60_000)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

/// Every stream is a socket on each side; the limit is raised here and inherited by children.
fn raise_fd_limit(want: u64) -> Result<()> {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE.get()?;
    if soft >= want {
        return Ok(());
    }
    // Root may raise the hard limit too; anyone else gets what the hard limit allows.
    if hard < want && Resource::NOFILE.set(want, want).is_ok() {
        return Ok(());
    }
    Resource::NOFILE.set(hard.min(want), hard)?;
    Ok(())
}

async fn bench(args: &Args) -> Result<Verdict> {
    raise_fd_limit(60_000)?;
    let (soft, _) = rlimit::Resource::NOFILE.get()?;
    if soft < (args.streams as u64) + 1000 {
        return Err(format!(
            "{} open streams need about {} file descriptors, and the limit is {soft}: raise it (ulimit -n) or pass --streams",
            args.streams,
            args.streams + 1000
        )
        .into());
    }
    if !args.chatlink.exists() {
        return Err(format!("{} is missing: build it with `cargo build --release -p chatlink-cli --features chatlink-cli/bench` (or run `make bench`)", args.chatlink.display()).into());
    }
    let cfg = if args.quick {
        Config {
            chatlink: args.chatlink.clone(),
            runs: args.runs.max(1),
            visitors: 32,
            links: 8,
            measure: Duration::from_secs(2),
            streams: 1_000,
            revoke_streams: 200,
            conversations: 5_000,
            messages_per_conversation: 20,
            token_links: 1_000,
            hostile: 2_000,
        }
    } else {
        Config {
            chatlink: args.chatlink.clone(),
            runs: args.runs.max(1),
            visitors: 64,
            links: 16,
            measure: Duration::from_secs(args.seconds.max(1)),
            streams: args.streams,
            revoke_streams: 1000,
            conversations: args.conversations,
            messages_per_conversation: 20,
            token_links: args.links,
            hostile: 10_000,
        }
    };
    let started = Instant::now();
    let want = |n: u8| args.only.is_empty() || args.only.contains(&n);
    // A baseline is the median of several whole suites, so one noisy suite cannot set it.
    let suites = if args.record.is_some() {
        RECORD_SUITES
    } else {
        1
    };
    let mut all = Vec::new();
    for _ in 0..suites {
        let mut rows = Vec::new();
        if want(1) {
            scenarios::turns(&cfg, &mut rows).await?;
        }
        if want(2) {
            scenarios::open_streams(&cfg, &mut rows).await?;
        }
        if want(3) {
            scenarios::revocation(&cfg, &mut rows).await?;
        }
        if want(4) {
            scenarios::scale(&cfg, &mut rows).await?;
        }
        if want(5) {
            scenarios::weight(&cfg, &mut rows).await?;
        }
        if want(6) {
            scenarios::hostile(&cfg, &mut rows).await?;
        }
        all.push(rows);
    }
    if let Some(path) = &args.record {
        guard::record(path, &all, &commit())?;
        println!(
            "guarded numbers (median of {suites} suites) recorded in {}",
            path.display()
        );
    }
    let rows = all.pop().unwrap_or_default();
    let judged: Vec<bool> = rows.iter().filter_map(stats::Row::pass).collect();
    let passed = judged.iter().filter(|p| **p).count();
    let header = format!(
        "{} cores, commit {}, {} run(s) per scenario (median shown), {:.0} s in all; {passed} of {} targets pass",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        commit(),
        cfg.runs,
        started.elapsed().as_secs_f64(),
        judged.len()
    );
    println!("{}\n\n{header}", stats::text_table(&rows));
    if let Some(out) = &args.out {
        write_results(out, &header, &stats::markdown_table(&rows))?;
        println!("written to {}", out.display());
    }
    let Some(path) = &args.check else {
        return Ok(Verdict::Pass);
    };
    let problems = guard::check(&guard::load(path)?, &rows);
    for p in &problems {
        println!("SLOWER: {p}");
    }
    match (problems.is_empty(), args.expect_slowdown) {
        (true, false) => {
            println!("no slowdown against {}", path.display());
            Ok(Verdict::Pass)
        }
        (false, false) => Ok(Verdict::Slower),
        (false, true) => {
            println!("the guard caught the slowdown it was shown, as it must");
            Ok(Verdict::Pass)
        }
        (true, true) => Err("the guard was shown a slowdown and did not catch it".into()),
    }
}

fn commit() -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output();
    match (out, dirty) {
        (Ok(o), Ok(d)) if o.status.success() => {
            let mut c = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if !d.stdout.is_empty() {
                c.push_str("+changes");
            }
            c
        }
        _ => "unknown".into(),
    }
}

const BEGIN: &str = "<!-- bench:begin (written by chatlink-bench; edit outside these markers) -->";
const END: &str = "<!-- bench:end -->";

/// Replaces the part of `path` between the bench markers, keeping the hand-written rest.
fn write_results(path: &std::path::Path, header: &str, table: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{header}\n\n{table}{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &old[..b], &old[e + END.len()..]),
        _ => format!("# Benchmark results\n\n{block}\n{old}"),
    };
    std::fs::write(path, new)?;
    Ok(())
}
