//! The command line's grammar.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "chatlink",
    version,
    about = "Chat links for your business: serve them, issue them, revoke them"
)]
pub struct Cli {
    /// Data folder (default: the platform's data folder, e.g. ~/.local/share/chatlink)
    #[arg(long, global = true, env = "CHATLINK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where secrets live: `keyring` (the OS keyring) or `file` (a mode-0600 file in the data
    /// folder, for servers without a keyring)
    #[arg(
        long,
        global = true,
        env = "CHATLINK_SECRETS",
        default_value = "keyring"
    )]
    pub secrets: String,
    /// Print JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Turn off the per-link and per-address message rate limits (load tests)
    #[arg(long, global = true, hide = true)]
    pub no_rate_limits: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the chat server until Ctrl-C
    Serve {
        /// Address to listen on; 127.0.0.1 keeps it to this computer
        #[arg(long, default_value = "127.0.0.1:8640")]
        bind: SocketAddr,
        /// The public origin links are built from (e.g. https://chat.example.com); checked
        /// through the self-test once serving
        #[arg(long, conflicts_with = "tunnel")]
        public_url: Option<String>,
        /// Start and watch a tunnel to the internet: cloudflared, tailscale or ngrok
        #[arg(long, value_name = "TOOL")]
        tunnel: Option<String>,
        /// The tunnel program, when it is not on PATH
        #[arg(long, value_name = "PATH", requires = "tunnel")]
        tunnel_program: Option<String>,
        /// cloudflared: run this named tunnel (made with `cloudflared tunnel create`)
        #[arg(long, value_name = "NAME", requires = "tunnel_hostname")]
        tunnel_name: Option<String>,
        /// cloudflared: the hostname routed to the named tunnel
        #[arg(long, value_name = "HOST", requires = "tunnel_name")]
        tunnel_hostname: Option<String>,
        /// Override a limit for this run (`chatlink limits` lists them), e.g.
        /// --limit idle_timeout=30s
        #[arg(long = "limit", value_name = "NAME=VALUE", value_parser = parse_limit)]
        limits: Vec<(String, String)>,
    },
    /// Issue, list, show, revoke and reissue links
    #[command(subcommand)]
    Token(TokenCmd),
    /// Create and edit agents and their knowledge
    #[command(subcommand)]
    Agent(AgentCmd),
    /// Widget apps: the appId/appSecret a website's backend trades for widget session tokens
    #[command(subcommand)]
    App(AppCmd),
    /// Conversations from every channel, newest activity first
    Inbox {
        /// Only this agent's (slug)
        #[arg(long)]
        agent: Option<String>,
        /// Only this link's JID (web:demo/flyer)
        #[arg(long)]
        jid: Option<String>,
        /// open, handoff (waiting for you) or resolved
        #[arg(long)]
        state: Option<String>,
        /// Words one of its messages contains
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Read one conversation, take it over from the agent, reply, hand it back, resolve it
    #[command(subcommand)]
    Conversation(ConversationCmd),
    /// Export conversations as JSON or CSV
    Export {
        /// One conversation
        #[arg(long, conflicts_with_all = ["from", "to"])]
        conversation: Option<String>,
        /// Conversations with activity from this date (2026-11-01) or this long ago (30d)
        #[arg(long, required_unless_present = "conversation")]
        from: Option<String>,
        /// …until this date or this long ago (default: now)
        #[arg(long)]
        to: Option<String>,
        /// json or csv (default: from --out's extension, else json)
        #[arg(long)]
        format: Option<String>,
        /// Write to this file (atomically) instead of printing
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show or set how long resolved conversations are kept: a number of days, or `forever`.
    /// Open conversations and those waiting for you are never deleted.
    Retention { days: Option<String> },
    /// Show the limits that protect the server (timeouts, caps, rates), or save one for the next
    /// start
    Limits {
        #[command(subcommand)]
        cmd: Option<LimitsCmd>,
    },
    /// Who can open your links: check the public address, set your own, proxy settings, tunnels
    #[command(subcommand)]
    Public(PublicCmd),
    /// Save the QR code of a link (a JID's newest live link, or any http(s) URL)
    Qr {
        /// A JID (web:demo) or a URL
        target: String,
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Pixels per QR module in the PNG
        #[arg(long, default_value_t = chatlink_core::qr::DEFAULT_SCALE)]
        scale: u32,
    },
}

fn parse_limit(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

#[derive(Debug, Subcommand)]
pub enum PublicCmd {
    /// Fetch the self-test through the links' address; exits non-zero unless it leads here
    /// for anyone on the internet
    Check,
    /// The links' address, who can open it, and the last check
    Status,
    /// Build links on your own address (a domain behind a reverse proxy, a VPS)
    Set { url: String },
    /// Build links on this computer's address again
    Clear {
        /// The port the server listens on
        #[arg(long, default_value_t = chatlink_core::app::DEFAULT_PORT)]
        port: u16,
    },
    /// Print reverse-proxy settings (nginx or caddy) for your address
    Config {
        server: String,
        /// Your public address (default: the links' address)
        #[arg(long)]
        url: Option<String>,
        /// The port Chatlink listens on
        #[arg(long, default_value_t = chatlink_core::app::DEFAULT_PORT)]
        port: u16,
    },
    /// The tunnel tools on this computer, and what each costs and promises
    Tunnels,
}

#[derive(Debug, Subcommand)]
pub enum LimitsCmd {
    /// Save a limit; a running server keeps its own until it restarts
    Set { name: String, value: String },
    /// Go back to a limit's default
    Reset { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Issue a new link and print its URL
    Issue {
        /// The agent's slug
        folder: String,
        #[command(subcommand)]
        kind: TokenKind,
        /// Tell links apart: web:<folder>/<suffix>
        #[arg(long, global = true)]
        suffix: Option<String>,
        /// A note for you, e.g. "Counter flyer"
        #[arg(long, global = true)]
        label: Option<String>,
        /// Expiry: a duration (30d, 12h) or a date (2027-01-31T18:00:00Z)
        #[arg(long, global = true)]
        expires: Option<String>,
    },
    /// List links (without their URLs; see `token show`)
    List {
        #[arg(long)]
        folder: Option<String>,
    },
    /// Show every link of a JID, with the URLs of the live ones
    Show { jid: String },
    /// Revoke every live link of a JID, or one link by id: its next visitor gets 401
    Revoke {
        #[arg(required_unless_present = "id", conflicts_with = "id")]
        jid: Option<String>,
        #[arg(long)]
        id: Option<i64>,
    },
    /// Replace a link by a new URL on the same JID (the old URL stops working)
    Reissue { id: i64 },
    /// Pause a link: visitors see "back soon" until you resume it (the URL and QR codes stay)
    Pause { id: i64 },
    /// Resume a paused link
    Resume { id: i64 },
    /// Print the one-line website embed of a chat link; `--origin` (repeatable) sets the
    /// websites it works on first (it works on none until one is set)
    Embed {
        id: i64,
        /// A website allowed to show the chat, e.g. https://rosies-bakery.example
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenKind {
    /// A chat link: /chat/<token>/
    Chat,
    /// A webhook: /hook/<token>
    Hook { source: String },
}

#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        greeting: String,
        #[arg(long, default_value = "")]
        instructions: String,
    },
    List,
    Show {
        slug: String,
    },
    Edit {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        greeting: Option<String>,
        #[arg(long)]
        instructions: Option<String>,
        /// answers (built-in) or openai (any OpenAI-compatible server)
        #[arg(long)]
        engine: Option<String>,
        #[arg(long)]
        base_url: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// The provider's max_tokens per reply (0: the server's default_max_tokens)
        #[arg(long)]
        max_tokens: Option<u32>,
        /// Provider requests a day before built-in answers take over (0: the default)
        #[arg(long)]
        daily_requests: Option<u32>,
        /// Provider tokens a day before built-in answers take over (0: the default)
        #[arg(long)]
        daily_tokens: Option<u64>,
    },
    /// Read the provider API key from stdin into the secret store (or --clear it)
    ApiKey {
        slug: String,
        #[arg(long)]
        clear: bool,
    },
    /// Match the knowledge by meaning too, through an OpenAI-compatible embeddings server
    /// (Ollama, LM Studio, llama.cpp, OpenAI…); --off: by words alone
    Embeddings {
        slug: String,
        /// Up to and including the version, e.g. http://127.0.0.1:11434/v1
        #[arg(long, required_unless_present = "off")]
        base_url: Option<String>,
        /// The embedding model, e.g. nomic-embed-text
        #[arg(long, required_unless_present = "off")]
        model: Option<String>,
        #[arg(long, conflicts_with_all = ["base_url", "model"])]
        off: bool,
    },
    /// Read the embeddings server's API key from stdin into the secret store (or --clear it)
    EmbeddingsKey {
        slug: String,
        #[arg(long)]
        clear: bool,
    },
    /// Give one JID its own persona and/or greeting (none of either removes the rule)
    Rule {
        jid: String,
        #[arg(long)]
        persona: Option<String>,
        #[arg(long)]
        greeting: Option<String>,
    },
    #[command(subcommand)]
    Knowledge(KnowledgeCmd),
}

#[derive(Debug, Subcommand)]
pub enum KnowledgeCmd {
    /// Add a question and answer (no --question: free text)
    Add {
        slug: String,
        #[arg(long)]
        question: Option<String>,
        #[arg(long)]
        answer: String,
    },
    List {
        slug: String,
    },
    Remove {
        slug: String,
        id: i64,
    },
    /// Import a Markdown (.md: headings are questions) or CSV (.csv: question,answer) file
    Import {
        slug: String,
        file: PathBuf,
    },
    /// Add another way visitors ask an entry's question ("also asked as")
    AlsoAsked {
        slug: String,
        id: i64,
        phrasing: String,
    },
    /// Say which language an entry is written in (en, de, fr, es, it, nl, pt, ar; "auto": read
    /// it from the text)
    Language {
        slug: String,
        id: i64,
        lang: String,
    },
    /// Questions visitors asked that the agent could not answer, most asked first
    Unanswered {
        slug: String,
    },
    /// Take a question off the unanswered list (its key from `unanswered`)
    Dismiss {
        slug: String,
        key: String,
    },
    /// Answer a visitor's question once for all who ask it: a new entry, or with --into another
    /// phrasing of entry ID
    Learn {
        slug: String,
        #[arg(long)]
        question: String,
        /// The new entry's answer (a phrasing keeps its entry's answer)
        #[arg(long, required_unless_present = "into", conflicts_with = "into")]
        answer: Option<String>,
        #[arg(long)]
        into: Option<i64>,
        /// The unanswered question's key (from `unanswered`), taken off the list
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConversationCmd {
    /// Every message of a conversation
    Show { id: String },
    /// Answer it yourself: the agent stays quiet in it until you hand it back
    TakeOver { id: String },
    /// Send a reply; it reaches the visitor's open page or widget at once (and takes over)
    Reply { id: String, text: String },
    /// Let the agent answer again
    HandBack { id: String },
    /// Mark it resolved (the agent answers if the visitor writes again)
    Resolve { id: String },
    /// Refuse its visitor's messages from now on (abuse); nothing they send is written
    Block { id: String },
    /// Accept its visitor's messages again
    Unblock { id: String },
}

#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Create a widget app for an agent; prints its appId and appSecret (shown this once)
    Create {
        /// The agent's slug
        folder: String,
        #[arg(long)]
        name: Option<String>,
        /// A website allowed to embed the widget (repeat for more); none means any website
        #[arg(long = "origin", value_name = "ORIGIN")]
        origins: Vec<String>,
        /// How long a widget session token lasts (5s to 24h)
        #[arg(long, default_value = "15m")]
        token_ttl: String,
    },
    /// List widget apps (never their secrets)
    List,
    /// Print an app's appSecret again, read from the secret store
    Reveal { app_id: String },
    /// Replace an app's appSecret: the old one and every session signed with it stop working now
    RotateSecret { app_id: String },
    /// Replace an app's allowed origins (none: any website)
    Origins {
        app_id: String,
        #[arg(long = "origin", value_name = "ORIGIN")]
        origins: Vec<String>,
    },
    /// Revoke an app: its token exchanges and every open widget session stop working now
    Revoke { app_id: String },
}
