//! `chatlink`: the headless front end. Each subcommand parses its arguments, makes one `App`
//! call and prints the answer (a table, or JSON with `--json`).

mod args;
mod output;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chatlink_core::app::{
    AgentUpdate, EmbeddingsSetting, EngineSetting, ExportFormat, ExportScope, InboxFilter,
    IssueLink, LearnAs, LinkKind, NewAgent, NewWidgetApp, ProxyServer, Via, proxy_config,
};
use chatlink_core::files::Access;
use chatlink_core::secret::{SecretBackend, Sensitive};
use chatlink_core::tunnel::{NamedTunnel, TunnelChoice, TunnelKind};
use chatlink_core::{App, AppConfig, Error, Result};
use clap::Parser;

use args::{
    AgentCmd, AppCmd, Cli, Command, ConversationCmd, KnowledgeCmd, LimitsCmd, PublicCmd, TokenCmd,
    TokenKind,
};
use output::Out;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHATLINK_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if matches!(cli.command, Command::Serve { .. }) {
            "info"
        } else {
            "warn"
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = Out { json: cli.json };
    match runtime.block_on(run(cli, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}

fn open(cli: &Cli) -> Result<App> {
    let data_dir = match &cli.data_dir {
        Some(d) => d.clone(),
        None => AppConfig::default_data_dir()?,
    };
    let secrets = SecretBackend::parse(&cli.secrets)?;
    // The memory store forgets the master key at exit, which would strand every stored link.
    if secrets == SecretBackend::Memory {
        return Err(Error::invalid(
            "--secrets must be `keyring` or `file` (`memory` is for tests and would lose your keys)",
        ));
    }
    let mut config = AppConfig::new(data_dir, secrets);
    if cli.no_rate_limits {
        config.limits = config.limits.without_rates();
    }
    if let Command::Serve { limits, .. } = &cli.command {
        config.limit_overrides = limits.clone();
    }
    App::open(config)
}

async fn run(cli: Cli, out: &Out) -> Result<()> {
    let app = open(&cli)?;
    match cli.command {
        Command::Serve {
            bind,
            public_url,
            tunnel,
            tunnel_program,
            tunnel_name,
            tunnel_hostname,
            ..
        } => {
            let tunnel = match tunnel {
                None => None,
                Some(kind) => Some(TunnelChoice {
                    kind: TunnelKind::parse(&kind)?,
                    program: tunnel_program,
                    named: tunnel_name
                        .zip(tunnel_hostname)
                        .map(|(name, hostname)| NamedTunnel { name, hostname }),
                }),
            };
            serve(app, bind, public_url, tunnel, out).await
        }
        Command::Public(cmd) => public(app, cmd, out).await,
        Command::Token(cmd) => token(app, cmd, out).await,
        Command::Agent(cmd) => agent(app, cmd, out).await,
        Command::App(cmd) => widget_app(app, cmd, out).await,
        Command::Inbox {
            agent,
            jid,
            state,
            search,
            limit,
        } => {
            let filter = InboxFilter {
                agent,
                jid,
                state,
                search,
                limit: Some(limit),
                offset: 0,
            };
            out.inbox(&app.inbox(filter).await?);
            Ok(())
        }
        Command::Conversation(cmd) => conversation(app, cmd, out).await,
        Command::Export {
            conversation,
            from,
            to,
            format,
            out: file,
        } => export(app, conversation, from, to, format, file, out).await,
        Command::Retention { days } => retention(app, days, out).await,
        Command::Limits { cmd } => {
            let saved = match cmd {
                None => {
                    out.limits(&app.limits_table(), false);
                    return Ok(());
                }
                Some(LimitsCmd::Set { name, value }) => app.set_limit(&name, Some(&value)).await?,
                Some(LimitsCmd::Reset { name }) => app.set_limit(&name, None).await?,
            };
            out.limits(&saved, true);
            Ok(())
        }
        Command::Qr {
            target,
            png,
            svg,
            scale,
        } => qr(app, &target, png.as_deref(), svg.as_deref(), scale, out).await,
    }
}

async fn serve(
    app: App,
    bind: SocketAddr,
    public_url: Option<String>,
    tunnel: Option<TunnelChoice>,
    out: &Out,
) -> Result<()> {
    if bind.ip().is_unspecified() && public_url.is_none() && tunnel.is_none() {
        return Err(Error::invalid(format!(
            "links cannot be built on {}: with --bind {bind} pass --public-url with the address visitors use, e.g. http://192.168.1.20:{}",
            bind.ip(),
            bind.port()
        )));
    }
    // Each open chat stream is a socket (two with a remote agent); a 1,024 soft limit would cap a
    // busy link at a few hundred visitors, while the hard limit is usually far higher.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open files"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    let listener = chatlink_core::http::bind(bind)
        .map_err(|e| Error::io(format!("cannot listen on {bind} (is another server using that port? try --bind 127.0.0.1:0)"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("cannot read the bound address", e))?;
    // The lock first: a refused second server must not repoint the links of the running one.
    app.start_serving().await?;
    // Until a tunnel reports its address (and after it stops), links are built on one this
    // computer can open, never on 0.0.0.0.
    let local_url = if local.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", local.port())
    } else {
        format!("http://{local}")
    };
    match &public_url {
        Some(url) => app.set_address(url, Via::Own)?,
        None => app.set_base_url(&local_url)?,
    }
    let tunnel = match tunnel {
        Some(choice) => Some(app.start_tunnel(choice).await?),
        None => None,
    };
    let demo = app
        .links_of_jid("web:demo")
        .await
        .ok()
        .and_then(|l| l.into_iter().rev().find_map(|l| l.url));
    // Handlers go in before the "serving" line: whoever reads it may stop us at once, and a SIGTERM
    // that lands before the handler would kill the process instead of shutting it down.
    let stop = shutdown_signal();
    out.serving(&local, &app.base_url(), demo.as_deref());
    let server = tokio::spawn(chatlink_core::http::serve(app.clone(), listener));
    if public_url.is_some() {
        let (app, out) = (app.clone(), *out);
        tokio::spawn(async move {
            match app.check_reach().await {
                Ok(check) => out.reach_check(&check),
                Err(e) => out.error(&e),
            }
        });
    }
    if let Some(t) = &tunnel {
        let (mut changes, out) = (t.subscribe(), *out);
        tokio::spawn(async move {
            let mut told = None;
            while changes.changed().await.is_ok() {
                let status = changes.borrow_and_update().clone();
                if told.as_ref() != Some(&status.state) {
                    out.tunnel(&status);
                    told = Some(status.state);
                }
            }
        });
    }
    stop.await;
    tracing::info!("shutting down");
    if let Some(t) = tunnel {
        t.stop().await;
        app.set_base_url(&local_url)?;
    }
    app.shutdown().await;
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::io("the server stopped", e)),
        Err(e) => Err(Error::Internal(format!("the server task failed: {e}"))),
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are registered when this is called, not when
/// the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn public(app: App, cmd: PublicCmd, out: &Out) -> Result<()> {
    match cmd {
        PublicCmd::Check => {
            let check = app.check_reach().await?;
            out.reach_check(&check);
            if check.public() {
                Ok(())
            } else {
                Err(Error::Unreachable(check.message))
            }
        }
        PublicCmd::Status => {
            out.reach(&app.reach().await?);
            Ok(())
        }
        PublicCmd::Set { url } => {
            app.set_address(&url, Via::Own)?;
            out.reach(&app.reach().await?);
            Ok(())
        }
        PublicCmd::Clear { port } => {
            app.set_base_url(&format!("http://127.0.0.1:{port}"))?;
            out.reach(&app.reach().await?);
            Ok(())
        }
        PublicCmd::Config { server, url, port } => {
            let url = url.unwrap_or_else(|| app.base_url());
            out.text(&proxy_config(ProxyServer::parse(&server)?, &url, port)?);
            Ok(())
        }
        PublicCmd::Tunnels => {
            out.tunnels(&chatlink_core::tunnel::detect());
            Ok(())
        }
    }
}

async fn conversation(app: App, cmd: ConversationCmd, out: &Out) -> Result<()> {
    match cmd {
        ConversationCmd::Show { id } => out.conversation(&app.conversation(&id).await?),
        ConversationCmd::TakeOver { id } => out.summary(&app.take_over(&id).await?),
        ConversationCmd::Reply { id, text } => out.reply(&app.owner_reply(&id, &text).await?),
        ConversationCmd::HandBack { id } => out.summary(&app.hand_back(&id).await?),
        ConversationCmd::Resolve { id } => out.summary(&app.resolve(&id).await?),
        ConversationCmd::Block { id } => out.summary(&app.block_conversation(&id, true).await?),
        ConversationCmd::Unblock { id } => out.summary(&app.block_conversation(&id, false).await?),
    }
    Ok(())
}

/// A time for --from/--to: a date (local midnight is not known here, so UTC), an RFC 3339
/// time, or a duration ago.
fn parse_when(flag: &str, s: &str) -> Result<i64> {
    let now = chatlink_core::model::now_ms();
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(now.saturating_sub(d.as_millis().min(i64::MAX as u128) as i64));
    }
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    let t = humantime::parse_rfc3339_weak(&full).map_err(|_| {
        Error::invalid(format!(
            "--{flag} {s:?}: use a date like 2026-11-01, a time like 2026-11-01T09:00:00Z, or a duration ago like 30d"
        ))
    })?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0))
}

async fn export(
    app: App,
    conversation: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
    file: Option<PathBuf>,
    out: &Out,
) -> Result<()> {
    let scope = match (conversation, from) {
        (Some(id), _) => ExportScope::Conversation(id),
        (None, Some(from)) => ExportScope::Between {
            from: parse_when("from", &from)?,
            to: match to {
                Some(to) => parse_when("to", &to)?,
                None => chatlink_core::model::now_ms() + 1,
            },
        },
        (None, None) => return Err(Error::invalid("pass --conversation ID or --from DATE")),
    };
    match file {
        Some(path) => {
            if format.is_some() {
                return Err(Error::invalid(
                    "with --out the format follows the file's extension (.json or .csv); drop --format",
                ));
            }
            let written = app.export_to_file(scope, &path).await?;
            out.done(&format!("exported to {}", written.display()));
        }
        None => {
            let format = ExportFormat::parse(format.as_deref().unwrap_or("json"))?;
            print!("{}", app.export(scope, format).await?);
        }
    }
    Ok(())
}

async fn retention(app: App, days: Option<String>, out: &Out) -> Result<()> {
    let Some(days) = days else {
        out.retention(app.retention_days().await?, None);
        return Ok(());
    };
    let days =
        match days.as_str() {
            "forever" | "off" => None,
            n => Some(n.parse::<u32>().map_err(|_| {
                Error::invalid(format!("{n:?}: give a number of days, or `forever`"))
            })?),
        };
    let deleted = app.set_retention_days(days).await?;
    out.retention(days, Some(deleted));
    Ok(())
}

fn parse_expiry(s: &str) -> Result<i64> {
    let now = chatlink_core::model::now_ms();
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(now.saturating_add(d.as_millis().min(i64::MAX as u128) as i64));
    }
    let t = humantime::parse_rfc3339_weak(s).map_err(|_| {
        Error::invalid(format!(
            "--expires {s:?}: use a duration like 30d or 12h, or a date like 2027-01-31T18:00:00Z"
        ))
    })?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Ok(ms)
}

async fn widget_app(app: App, cmd: AppCmd, out: &Out) -> Result<()> {
    match cmd {
        AppCmd::Create {
            folder,
            name,
            origins,
            token_ttl,
        } => {
            let ttl = humantime::parse_duration(&token_ttl).map_err(|_| {
                Error::invalid(format!(
                    "--token-ttl {token_ttl:?}: use a duration like 15m, 90s or 1h"
                ))
            })?;
            let created = app
                .create_widget_app(NewWidgetApp {
                    folder,
                    name,
                    origins,
                    token_ttl: Some(ttl),
                })
                .await?;
            out.created_app(&created.app, &created.secret);
        }
        AppCmd::List => out.apps(&app.widget_apps().await?),
        AppCmd::Reveal { app_id } => {
            let secret = app.reveal_app_secret(&app_id).await?;
            out.secret(&app_id, &secret);
        }
        AppCmd::RotateSecret { app_id } => {
            let secret = app.rotate_app_secret(&app_id).await?;
            out.secret(&app_id, &secret);
        }
        AppCmd::Origins { app_id, origins } => {
            out.app(&app.set_widget_app_origins(&app_id, origins).await?);
        }
        AppCmd::Revoke { app_id } => out.app(&app.revoke_widget_app(&app_id).await?),
    }
    Ok(())
}

async fn token(app: App, cmd: TokenCmd, out: &Out) -> Result<()> {
    match cmd {
        TokenCmd::Issue {
            folder,
            kind,
            suffix,
            label,
            expires,
        } => {
            let kind = match kind {
                TokenKind::Chat => LinkKind::Chat,
                TokenKind::Hook { source } => LinkKind::Hook { source },
            };
            let expires_at = expires.as_deref().map(parse_expiry).transpose()?;
            let link = app
                .issue_link(IssueLink {
                    folder,
                    kind,
                    suffix,
                    label,
                    expires_at,
                })
                .await?;
            out.issued(&link);
        }
        TokenCmd::List { folder } => out.links(&app.links(folder).await?),
        TokenCmd::Show { jid } => out.links(&app.links_of_jid(&jid).await?),
        TokenCmd::Revoke {
            jid: Some(jid),
            id: None,
        } => out.revoked(&app.revoke_jid(&jid).await?),
        TokenCmd::Revoke {
            jid: None,
            id: Some(id),
        } => out.revoked(&[app.revoke_link(id).await?]),
        TokenCmd::Revoke { .. } => return Err(Error::invalid("give either a JID or --id N")),
        TokenCmd::Reissue { id } => out.issued(&app.reissue_link(id).await?),
        TokenCmd::Pause { id } => out.links(&[app.pause_link(id, true).await?]),
        TokenCmd::Resume { id } => out.links(&[app.pause_link(id, false).await?]),
        TokenCmd::Embed { id, origins } => out.embed(&app.embed_link(id, origins).await?),
    }
    Ok(())
}

async fn agent(app: App, cmd: AgentCmd, out: &Out) -> Result<()> {
    match cmd {
        AgentCmd::Create {
            slug,
            name,
            greeting,
            instructions,
        } => {
            let name = name.unwrap_or_else(|| slug.clone());
            out.agent(
                &app.create_agent(NewAgent {
                    slug,
                    name,
                    greeting,
                    instructions,
                })
                .await?,
            );
        }
        AgentCmd::List => out.agents(&app.agents().await?),
        AgentCmd::Show { slug } => out.agent(&app.agent(&slug).await?),
        AgentCmd::Edit {
            slug,
            name,
            greeting,
            instructions,
            engine,
            base_url,
            model,
            max_tokens,
            daily_requests,
            daily_tokens,
        } => {
            let engine = match engine.as_deref() {
                None => None,
                Some("answers") => Some(EngineSetting::Answers),
                Some("openai") => Some(EngineSetting::OpenAi {
                    base_url: base_url
                        .ok_or_else(|| Error::invalid("--engine openai needs --base-url"))?,
                    model: model.ok_or_else(|| Error::invalid("--engine openai needs --model"))?,
                }),
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "unknown engine {other:?}: use answers or openai"
                    )));
                }
            };
            out.agent(
                &app.update_agent(
                    &slug,
                    AgentUpdate {
                        name,
                        greeting,
                        instructions,
                        engine,
                        max_tokens,
                        daily_requests,
                        daily_tokens,
                    },
                )
                .await?,
            );
        }
        AgentCmd::ApiKey { slug, clear } => {
            let key = if clear {
                None
            } else {
                Some(read_secret_from_stdin()?)
            };
            out.agent(&app.set_api_key(&slug, key).await?);
        }
        AgentCmd::Embeddings {
            slug,
            base_url,
            model,
            off: _,
        } => {
            let setting = base_url
                .zip(model)
                .map(|(base_url, model)| EmbeddingsSetting { base_url, model });
            out.agent(&app.set_embeddings(&slug, setting).await?);
        }
        AgentCmd::EmbeddingsKey { slug, clear } => {
            let key = if clear {
                None
            } else {
                Some(read_secret_from_stdin()?)
            };
            out.agent(&app.set_embeddings_key(&slug, key).await?);
        }
        AgentCmd::Rule {
            jid,
            persona,
            greeting,
        } => {
            app.set_route_rule(&jid, persona, greeting).await?;
            out.done(&format!("route rule for {jid} saved"));
        }
        AgentCmd::Knowledge(k) => knowledge(app, k, out).await?,
    }
    Ok(())
}

fn read_secret_from_stdin() -> Result<Sensitive<String>> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::io("cannot read the API key from stdin", e))?;
    Ok(Sensitive::new(s.trim().to_owned()))
}

async fn knowledge(app: App, cmd: KnowledgeCmd, out: &Out) -> Result<()> {
    match cmd {
        KnowledgeCmd::Add {
            slug,
            question,
            answer,
        } => out.knowledge(&[app.add_knowledge(&slug, question, answer).await?]),
        KnowledgeCmd::List { slug } => out.knowledge(&app.knowledge(&slug).await?),
        KnowledgeCmd::Remove { slug, id } => {
            app.remove_knowledge(&slug, id).await?;
            out.done(&format!("entry {id} removed"));
        }
        KnowledgeCmd::Import { slug, file } => {
            let added = app.import_knowledge_file(&slug, &file).await?;
            out.done(&format!("imported {} entries into {slug}", added.len()));
        }
        KnowledgeCmd::AlsoAsked { slug, id, phrasing } => {
            out.knowledge(&[app.add_phrasing(&slug, id, &phrasing).await?])
        }
        KnowledgeCmd::Language { slug, id, lang } => {
            let lang = match lang.as_str() {
                "auto" => None,
                tag => Some(chatlink_core::i18n::Lang::from_tag(tag).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown language {tag:?}: use en, de, fr, es, it, nl, pt, ar or auto"
                    ))
                })?),
            };
            out.knowledge(&[app.set_knowledge_language(&slug, id, lang).await?])
        }
        KnowledgeCmd::Unanswered { slug } => out.unanswered(&app.unanswered(&slug).await?),
        KnowledgeCmd::Dismiss { slug, key } => {
            app.dismiss_unanswered(&slug, &key).await?;
            out.done("taken off the unanswered list");
        }
        KnowledgeCmd::Learn {
            slug,
            question,
            answer,
            into,
            key,
        } => {
            let learn_as = LearnAs::from_parts(answer, into)?;
            out.knowledge(&[app.learn(&slug, &question, learn_as, key).await?])
        }
    }
    Ok(())
}

async fn qr(
    app: App,
    target: &str,
    png: Option<&Path>,
    svg: Option<&Path>,
    scale: u32,
    out: &Out,
) -> Result<()> {
    if png.is_none() && svg.is_none() {
        return Err(Error::invalid(
            "say where to save the QR code: --png FILE and/or --svg FILE",
        ));
    }
    let url = app.qr_url(target).await?;
    // Both files are made before either is written, so a bad scale writes neither.
    let png_bytes = png
        .map(|_| chatlink_core::qr::png(&url, scale))
        .transpose()?;
    let svg_text = svg.map(|_| chatlink_core::qr::svg(&url)).transpose()?;
    if let (Some(path), Some(bytes)) = (png, &png_bytes) {
        chatlink_core::files::write(path, bytes, Access::Shared)?;
        out.done(&format!("QR code for {url} saved to {}", path.display()));
    }
    if let (Some(path), Some(text)) = (svg, &svg_text) {
        chatlink_core::files::write(path, text.as_bytes(), Access::Shared)?;
        out.done(&format!("QR code for {url} saved to {}", path.display()));
    }
    Ok(())
}
