//! How fast the window's lists are on a busy data folder: 500 links, 5,000 conversations of two
//! visitor messages each. Prints the median of 20 calls of each list the window loads (links,
//! Home's counts, the inbox, its search, the chart).
//!
//! `cargo run --release -p chatlink-core --example window_lists`

use std::time::{Duration, Instant};

use chatlink_core::app::{InboxFilter, IssueLink};
use chatlink_core::model::{FinishedTurn, TurnStatus, now_ms};
use chatlink_core::secret::SecretBackend;
use chatlink_core::store::{NewTurn, Store};
use chatlink_core::{App, AppConfig};

const LINKS: usize = 500;
const CONVERSATIONS: usize = 5_000;
const RUNS: usize = 20;

async fn median<T, F: std::future::Future<Output = T>>(mut f: impl FnMut() -> F) -> Duration {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(f().await);
        times.push(start.elapsed());
    }
    times.sort();
    times[RUNS / 2]
}

#[tokio::main]
async fn main() -> chatlink_core::Result<()> {
    let dir = tempfile::tempdir().map_err(|e| chatlink_core::Error::io("tempdir", e))?;
    let app = App::open(AppConfig::new(dir.path(), SecretBackend::File))?;
    let mut links = Vec::with_capacity(LINKS);
    for i in 0..LINKS {
        let link = app
            .issue_link(IssueLink {
                suffix: Some(format!("s{i}")),
                label: Some(format!("Flyer {i}")),
                ..IssueLink::chat("demo")
            })
            .await?;
        links.push((link.id, link.jid.parse::<chatlink_core::jid::Jid>()?));
    }
    // Conversations straight into the store: the visitor path's rate limits would take hours.
    let store = Store::open(&dir.path().join("chatlink.db"))?;
    let seeding = Instant::now();
    for i in 0..CONVERSATIONS {
        let (id, jid) = &links[i % LINKS];
        let turn = |conversation_id: Option<String>, content: &str| NewTurn {
            conversation_id,
            folder: "demo".into(),
            jid: jid.clone(),
            token_id: Some(*id),
            end_user: None,
            content: content.into(),
            history: 0,
        };
        let first = store.begin_turn(turn(None, "When are you open on Sunday?"))?;
        store.end_turn(FinishedTurn {
            turn_id: first.turn_id,
            conversation_id: first.conversation_id.clone(),
            frames: Vec::new(),
            reply: None,
            status: TurnStatus::Ok,
            unanswered: None,
        })?;
        store.begin_turn(turn(Some(first.conversation_id), "And on Monday?"))?;
    }
    println!(
        "seeded {LINKS} links, {CONVERSATIONS} conversations, {} visitor messages in {:.1?}",
        CONVERSATIONS * 2,
        seeding.elapsed()
    );

    let with_urls = median(|| app.links_with_urls()).await;
    let without = median(|| app.links(None)).await;
    let overview = median(|| app.overview(now_ms() - 86_400_000)).await;
    let inbox = median(|| app.inbox(InboxFilter::default())).await;
    let search = median(|| {
        app.inbox(InboxFilter {
            search: Some("monday".into()),
            ..InboxFilter::default()
        })
    })
    .await;
    let chart = median(|| app.activity(30, 0, None)).await;
    let listed = app.links_with_urls().await?;
    let counted: i64 = listed.iter().map(|l| l.messages).sum();
    assert_eq!(counted, (CONVERSATIONS * 2) as i64, "every message counted");
    println!("median of {RUNS} calls:");
    println!("  links table, with URLs (list_links): {with_urls:>9.2?}");
    println!("  links, without URLs:                 {without:>9.2?}");
    println!("  Home counts (overview):              {overview:>9.2?}");
    println!("  inbox, newest 100 (list_conversations): {inbox:>6.2?}");
    println!("  inbox search over every message:     {search:>9.2?}");
    println!("  30-day chart, all links (activity):  {chart:>9.2?}");
    Ok(())
}
