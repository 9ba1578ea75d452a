//! `App`, the facade every front end holds. The CLI, the HTTP handlers and the desktop window's
//! commands each translate one request into one `App` call; the rules live here and below.
//!
//! Owner calls (links, agents) and visitor calls (chat, hooks) are split into submodules. Every
//! store access runs on tokio's blocking pool so a slow disk never stalls the event loop.

mod agents;
mod chat;
mod inbox;
mod learn;
mod limits;
mod links;
mod look;
mod overview;
mod proxies;
mod public;
mod semantic;
mod settings;
mod widget;

pub use agents::{
    AgentBudget, AgentInfo, AgentUpdate, EngineInfo, EngineSetting, NewAgent, RouteRuleInfo,
    TestAnswer,
};
pub use chat::{History, HistoryMessageView, PostMessage, Posted};
pub use inbox::{
    Channel, ConversationDetail, ConversationSummary, DayActivity, ExportFormat, ExportScope,
    InboxFilter, MAX_INBOX_PAGE, RETENTION_DAYS, TranscriptMessage,
};
pub use learn::{KnowledgeEdit, LearnAs, LearnSuggestion, SimilarEntry, UnansweredQuestion};
pub use limits::{AddrList, ClientKey, LimitInfo, Limits, client_behind};
pub use links::{IssueLink, LinkInfo, LinkKind, LinkStatus};
pub use look::{ChatPage, LanguageInfo, LinkEmbed, LookInfo, PageProblem, WidgetConfig};
pub use overview::Overview;
pub use proxies::{ProxyServer, proxy_config};
pub use public::{
    AddressChange, Audience, CHECK_EVERY, PROOF_PATH, Reach, ReachCheck, ReachProblem,
    RunningTunnel, STREAM_GAP, Via, audience_of,
};
pub use semantic::{EmbeddingsInfo, EmbeddingsSetting};
pub use settings::{ServerSettings, normalize_base_url};
pub use widget::{
    AppStatus, CreatedWidgetApp, DEFAULT_TOKEN_TTL, IssuedToken, NewWidgetApp, TokenRequest,
    WidgetAppInfo, WidgetEmbed, WidgetHistory, WidgetHistoryMessage, WidgetMessage, WidgetSession,
    looks_like_app_id, normalize_origin,
};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::answers::AnswersAgent;
use crate::error::{Error, Result};
use crate::hub::{Hub, Switch};
use crate::model::now_ms;
use crate::secret::{Keys, SecretBackend, SecretStore, load_or_create_master_key, open_store};
use crate::store::Store;

pub const DEFAULT_PORT: u16 = 8640;
/// How long after start the first retention pass runs.
pub const RETENTION_AFTER_START: Duration = Duration::from_secs(30);
const DB_FILE: &str = "chatlink.db";

/// How to open an [`App`].
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub data_dir: PathBuf,
    pub secrets: SecretBackend,
    pub limits: Limits,
    /// Create the demo agent and link when the data folder is new.
    pub seed_demo: bool,
    /// `name=value` limits for this run only, over `limits` and the saved ones.
    pub limit_overrides: Vec<(String, String)>,
}

impl AppConfig {
    pub fn new(data_dir: impl Into<PathBuf>, secrets: SecretBackend) -> AppConfig {
        AppConfig {
            data_dir: data_dir.into(),
            secrets,
            limits: Limits::default(),
            seed_demo: true,
            limit_overrides: Vec::new(),
        }
    }

    /// The platform's data folder (`~/.local/share/chatlink` on Linux).
    pub fn default_data_dir() -> Result<PathBuf> {
        directories::ProjectDirs::from("", "", "chatlink")
            .map(|d| d.data_dir().to_owned())
            .ok_or_else(|| {
                Error::invalid("cannot find a home folder for the data; pass --data-dir")
            })
    }
}

#[derive(Clone)]
pub struct App(Arc<Inner>);

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("data_dir", &self.0.data_dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    data_dir: PathBuf,
    store: Arc<Store>,
    secrets: Box<dyn SecretStore>,
    keys: Keys,
    /// Prefix of every secret name, so two data folders never share keyring entries.
    namespace: String,
    hub: Arc<Hub>,
    limits: Limits,
    rates: limits::RateLimits,
    answers: Arc<AnswersAgent>,
    http: reqwest::Client,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    base_url: RwLock<String>,
    serve_lock: std::sync::Mutex<Option<File>>,
    /// `agent/day` of the budgets the owner was told are spent, so they hear it once.
    budget_told: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Wakes the public-address check when the address changed.
    reach_changed: tokio::sync::Notify,
    /// Each agent's knowledge and index as of a knowledge revision (see `knowledge_base`).
    knowledge: std::sync::Mutex<std::collections::HashMap<String, CachedKnowledge>>,
    /// Each agent's embedding work (semantic matching), so one task embeds at a time.
    embedding: std::sync::Mutex<std::collections::HashMap<String, semantic::EmbedState>>,
    /// This state itself, for background tasks started from a call that only has `&Inner`.
    me: std::sync::Weak<Inner>,
}

/// An agent's built knowledge, good while its revision and language are these.
struct CachedKnowledge {
    rev: i64,
    lang: crate::i18n::Lang,
    base: Arc<crate::agent::KnowledgeBase>,
}

impl App {
    /// Opens the data folder: database, secret store, master key; seeds the demo on first run.
    pub fn open(config: AppConfig) -> Result<App> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Error::io(
                format!(
                    "cannot create the data folder {}",
                    config.data_dir.display()
                ),
                e,
            )
        })?;
        restrict_to_owner(&config.data_dir)?;
        let store = Store::open(&config.data_dir.join(DB_FILE))?;
        check_backend(&store, config.secrets)?;
        let namespace = match store.setting("install_id")? {
            Some(id) => id,
            None => {
                let id = crate::token::random_id();
                store.set_setting("install_id", &id)?;
                id
            }
        };
        let secrets = open_store(config.secrets, &config.data_dir)?;
        let keys = load_or_create_master_key(secrets.as_ref(), &namespace)?;
        if config.secrets != SecretBackend::Memory {
            store.set_setting("secrets_backend", config.secrets.as_str())?;
        }
        let base_url = store
            .setting("base_url")?
            .unwrap_or_else(|| format!("http://127.0.0.1:{DEFAULT_PORT}"));
        let limits = effective_limits(&store, config.limits, &config.limit_overrides)?;
        let shutdown = CancellationToken::new();
        let app = App(Arc::new_cyclic(|me| Inner {
            data_dir: config.data_dir,
            store: Arc::new(store),
            secrets,
            keys,
            namespace,
            hub: Arc::new(Hub::new(shutdown.clone(), limits.max_streams)),
            rates: limits::RateLimits::new(&limits),
            limits,
            answers: Arc::new(AnswersAgent::new()),
            http: crate::agent::openai::default_client(),
            tasks: TaskTracker::new(),
            shutdown,
            base_url: RwLock::new(base_url),
            serve_lock: std::sync::Mutex::new(None),
            budget_told: std::sync::Mutex::new(std::collections::HashSet::new()),
            reach_changed: tokio::sync::Notify::new(),
            knowledge: std::sync::Mutex::new(std::collections::HashMap::new()),
            embedding: std::sync::Mutex::new(std::collections::HashMap::new()),
            me: me.clone(),
        }));
        if config.seed_demo {
            app.seed_demo()?;
        }
        Ok(app)
    }

    pub fn data_dir(&self) -> &Path {
        &self.0.data_dir
    }

    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// The origin links are built from (`http://127.0.0.1:8640`, or the public URL).
    pub fn base_url(&self) -> String {
        self.0
            .base_url
            .read()
            .map(|u| u.clone())
            .unwrap_or_default()
    }

    /// Sets the origin links are built from to an address the server listens on; see
    /// [`App::set_address`] for an owner's address or a tunnel's.
    pub fn set_base_url(&self, url: &str) -> Result<()> {
        self.set_address(url, Via::Listener)
    }

    /// Remembers the origin links are built from, so `token issue` in another process prints
    /// the same URLs as the server.
    fn store_base_url(&self, url: &str) -> Result<()> {
        let url = settings::normalize_base_url(url)?;
        self.0.store.set_setting("base_url", &url)?;
        if let Ok(mut b) = self.0.base_url.write() {
            *b = url;
        }
        Ok(())
    }

    /// Takes the role of the one server process on this data folder: ends turns a previous run
    /// left running, and watches for links revoked by other processes. Call once before serving.
    pub async fn start_serving(&self) -> Result<()> {
        #[cfg(feature = "bench")]
        crate::slowdown::pause().await;
        let lock = take_serve_lock(&self.0.data_dir)?;
        if let Ok(mut slot) = self.0.serve_lock.lock() {
            *slot = Some(lock);
        }
        let recovered = self
            .blocking(|i| {
                i.store
                    .recover_running_turns(crate::model::TurnError::Interrupted)
            })
            .await?;
        if !recovered.is_empty() {
            tracing::warn!(
                count = recovered.len(),
                "ended turns interrupted by the last shutdown"
            );
        }
        let app = self.clone();
        self.0
            .tasks
            .spawn(async move { app.watch_revocations().await });
        let app = self.clone();
        self.0
            .tasks
            .spawn(async move { app.retention_daily().await });
        let app = self.clone();
        self.0.tasks.spawn(async move { app.watch_reach().await });
        let app = self.clone();
        self.0
            .tasks
            .spawn(async move { app.warm_knowledge().await });
        Ok(())
    }

    /// Builds the agents' knowledge indexes (and the language analyzers under them) while the
    /// server starts, on the spare core, so the first visitor's page and message do not wait
    /// for them. The most recently changed agents first, a bounded number: the rest are built
    /// on first use, as they are after any edit.
    async fn warm_knowledge(self) {
        const WARM_AGENTS: usize = 50;
        let warmed = self
            .blocking(|i| {
                let mut folders = i.store.folders()?;
                folders.sort_by_key(|f| std::cmp::Reverse(f.updated_at));
                for folder in folders.iter().take(WARM_AGENTS) {
                    i.knowledge_base(folder)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = warmed {
            tracing::warn!(error = %e, "could not build the knowledge indexes ahead of use");
        }
    }

    /// Polls for links and widget apps revoked (or rotated) by another process (the CLI) and
    /// closes their streams; a change made through this `App` closes them at once.
    async fn watch_revocations(self) {
        let mut since = now_ms();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut sweeps = 0u32;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.0.shutdown.cancelled() => return,
            }
            let checked_at = now_ms();
            let changed = self
                .blocking(move |i| {
                    Ok((
                        i.store.revoked_since(since)?,
                        i.store.apps_changed_since(since)?,
                        i.store.conversations_updated_since(since)?,
                    ))
                })
                .await;
            match changed {
                Ok((links, apps, conversations)) => {
                    for id in links {
                        self.0.hub.close(&Switch::Link(id));
                    }
                    // An owner's reply from the CLI (another process) reaches open pages too.
                    for id in conversations {
                        self.0.hub.conversation_changed(&id);
                    }
                    for id in apps {
                        self.0.hub.close(&Switch::App(id));
                    }
                    // Overlap one tick so a revocation committed during the query is not missed.
                    since = checked_at - 500;
                }
                Err(e) => tracing::warn!(error = %e, "could not check for revoked links"),
            }
            sweeps = sweeps.wrapping_add(1);
            if sweeps.is_multiple_of(120) {
                self.0.rates.forget_idle();
                self.sweep_stale_turns().await;
            }
        }
    }

    /// Ends turns left `running` well past their deadline that no task here runs (a final
    /// write and its fallback both failed): their visitors' conversations are freed.
    async fn sweep_stale_turns(&self) {
        let grace = self.0.limits.turn_deadline + Duration::from_secs(60);
        let before = now_ms() - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let except = self.0.hub.running_turn_ids();
        let swept = self
            .blocking(move |i| {
                i.store.end_running_turns(
                    crate::model::TurnError::NotSaved,
                    crate::store::Running::StartedBefore {
                        before,
                        except: &except,
                    },
                )
            })
            .await;
        match swept {
            Ok(ended) => {
                for t in &ended {
                    self.0.hub.conversation_changed(&t.conversation_id);
                }
                if !ended.is_empty() {
                    tracing::warn!(
                        count = ended.len(),
                        "ended turns left running past their deadline"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not sweep stale turns"),
        }
    }

    /// Applies the retention setting shortly after start and then once a day, until shutdown.
    /// The first pass waits [`RETENTION_AFTER_START`], so a large delete never competes with
    /// the first visitors of a server that just started.
    async fn retention_daily(&self) {
        tokio::select! {
            () = tokio::time::sleep(RETENTION_AFTER_START) => {}
            () = self.0.shutdown.cancelled() => return,
        }
        loop {
            if let Err(e) = self.apply_retention().await {
                tracing::warn!(code = e.code(), error = %e, "retention did not run");
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(24 * 60 * 60)) => {}
                () = self.0.shutdown.cancelled() => return,
            }
        }
    }

    /// The token cancelled when the app shuts down (the HTTP server stops with it).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown.clone()
    }

    /// Ends every stream, lets running turns write their end, and waits for them (up to 10 s).
    pub async fn shutdown(&self) {
        self.0.shutdown.cancel();
        self.0.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.0.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some turns did not finish within 10 s of shutdown");
        }
        if let Ok(mut slot) = self.0.serve_lock.lock() {
            slot.take();
        }
    }

    /// Counts one read (a page, a history, a stream) from `client` against its rate.
    pub fn count_read(&self, client: std::net::IpAddr) -> Result<()> {
        self.0.rates.check_read(client)
    }

    pub fn open_streams(&self) -> usize {
        self.0.hub.open_streams()
    }

    /// Runs `f` on the blocking pool with this app's state.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let app = self.0.clone();
        tokio::task::spawn_blocking(move || f(&app))
            .await
            .map_err(|e| Error::Internal(format!("a background task failed: {e}")))?
    }

    fn seed_demo(&self) -> Result<()> {
        let store = &self.0.store;
        if store.setting("seeded")?.is_some() {
            return Ok(());
        }
        if store.folders()?.is_empty() {
            store.create_folder(
                crate::demo::SLUG,
                crate::demo::NAME,
                crate::demo::GREETING,
                crate::demo::INSTRUCTIONS,
            )?;
            store.add_knowledge(crate::demo::SLUG, &crate::demo::knowledge())?;
            links::issue_blocking(
                &self.0,
                &IssueLink {
                    label: Some("Demo link".into()),
                    ..IssueLink::chat(crate::demo::SLUG)
                },
            )?;
        }
        store.set_setting("seeded", "1")?;
        Ok(())
    }
}

const LIMIT_PREFIX: &str = "limit.";

/// `base`, then the limits saved in the data folder, then this run's overrides. A saved value
/// this version cannot read (a renamed limit) is skipped with a warning; a bad override is an
/// error, since someone just typed it.
fn effective_limits(store: &Store, base: Limits, overrides: &[(String, String)]) -> Result<Limits> {
    let mut limits = base;
    for (name, value) in store.settings_with_prefix(LIMIT_PREFIX)? {
        if let Err(e) = limits.set(&name, &value) {
            tracing::warn!(name, error = %e, "ignoring a saved limit");
        }
    }
    for (name, value) in overrides {
        limits.set(name, value)?;
    }
    Ok(limits)
}

impl App {
    /// Every limit: its value in this process, its default and what it bounds.
    pub fn limits_table(&self) -> Vec<LimitInfo> {
        self.0.limits.table()
    }

    /// Saves a limit for every later start (a running server keeps its own until it restarts);
    /// `None` goes back to the default. A bad name or value changes nothing.
    pub async fn set_limit(&self, name: &str, value: Option<&str>) -> Result<Vec<LimitInfo>> {
        let (name, value) = (name.to_owned(), value.map(str::to_owned));
        self.blocking(move |i| {
            let mut check = Limits::default();
            match &value {
                Some(v) => {
                    check.set(&name, v)?;
                    i.store
                        .set_setting(&format!("{LIMIT_PREFIX}{name}"), v.trim())?;
                }
                None => {
                    check.set(&name, &Limits::default().table_value(&name))?;
                    i.store.delete_setting(&format!("{LIMIT_PREFIX}{name}"))?;
                }
            }
            effective_limits(&i.store, Limits::default(), &[]).map(|l| l.table())
        })
        .await
    }
}

fn check_backend(store: &Store, wanted: SecretBackend) -> Result<()> {
    let Some(recorded) = store.setting("secrets_backend")? else {
        return Ok(());
    };
    if recorded == wanted.as_str() || wanted == SecretBackend::Memory {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "this data folder keeps its secrets in the {recorded} store, not the {} one: run with `--secrets {recorded}`",
        wanted.as_str()
    )))
}

/// Conversations and sealed links live here: only the owner's account may read them.
fn restrict_to_owner(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("cannot restrict access to {}", dir.display()), e))?;
    }
    Ok(())
}

fn take_serve_lock(data_dir: &Path) -> Result<File> {
    let path = data_dir.join("serve.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Conflict(format!(
            "another chatlink server is already running on {}",
            data_dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    pub fn test_app() -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = App::open(AppConfig::new(dir.path(), SecretBackend::Memory)).expect("open app");
        (dir, app)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::test_app;
    use super::*;

    /// A server that just started does not delete while its first visitors arrive: the first
    /// retention pass waits, and then deletes what the setting says.
    #[tokio::test]
    async fn retention_waits_after_start() {
        use futures_util::StreamExt;
        let (_dir, app) = test_app();
        let url = app
            .issue_link(IssueLink::chat("demo"))
            .await
            .expect("link")
            .url
            .expect("url");
        let token = url.trim_end_matches('/').rsplit('/').next().expect("token");
        let posted = app
            .post_message(
                token,
                PostMessage {
                    content: "hello".into(),
                    conversation_id: None,
                    accept_language: None,
                },
                std::net::Ipv4Addr::LOCALHOST.into(),
            )
            .await
            .expect("post");
        let _: Vec<_> = app
            .subscribe(token, &posted.turn_id, None)
            .await
            .expect("sse")
            .expect("a stream")
            .collect()
            .await;
        app.resolve(&posted.conversation_id).await.expect("resolve");
        let store = app.0.store.clone();
        store.set_setting("retention_days", "1").expect("setting");
        store
            .write(|tx| Ok(tx.execute("UPDATE conversations SET updated_at = 0", [])?))
            .expect("age it");

        app.start_serving().await.expect("serving");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let id = posted.conversation_id.clone();
        assert!(
            store.conversation(&id).expect("read").is_some(),
            "nothing deleted at start"
        );
        assert_eq!(app.apply_retention().await.expect("retention"), 1);
        assert!(store.conversation(&id).expect("read").is_none());
    }

    #[tokio::test]
    async fn first_run_seeds_the_demo_once() {
        let (dir, app) = test_app();
        let links = app.links(None).await.expect("links");
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].jid, "web:demo");
        assert!(app.agent("demo").await.expect("demo").knowledge_count >= 5);
        drop(app);
        let app = App::open(AppConfig::new(dir.path(), SecretBackend::File)).expect("reopen");
        assert_eq!(
            app.links(None).await.expect("links").len(),
            1,
            "not seeded twice"
        );
    }

    #[test]
    fn a_folder_refuses_another_secret_backend() {
        let dir = tempfile::tempdir().expect("tempdir");
        App::open(AppConfig::new(dir.path(), SecretBackend::File)).expect("file");
        let err =
            App::open(AppConfig::new(dir.path(), SecretBackend::Keyring)).expect_err("keyring");
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains("--secrets file"), "{err}");
    }

    #[tokio::test]
    async fn one_server_per_data_folder_and_base_url_is_checked() {
        let (dir, app) = test_app();
        app.start_serving().await.expect("first");
        let other = App::open(AppConfig::new(dir.path(), SecretBackend::Memory)).expect("open");
        assert_eq!(
            other.start_serving().await.expect_err("second").code(),
            "conflict"
        );
        assert!(app.set_base_url("ftp://x").is_err());
        assert!(app.set_base_url("not a url").is_err());
        app.set_base_url("https://chat.example.com/").expect("set");
        assert_eq!(
            other.0.store.setting("base_url").expect("read").as_deref(),
            Some("https://chat.example.com")
        );
        app.shutdown().await;
    }
}
