//! The window's commands: each makes one `App` call and maps its error; the rules live in the core.

use std::path::PathBuf;
use std::time::Duration;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use chatlink_core::app::{
    AgentInfo, AgentUpdate, ConversationDetail, ConversationSummary, DayActivity,
    EmbeddingsSetting, EngineSetting, ExportScope, InboxFilter, IssueLink, LinkInfo, NewAgent,
    NewWidgetApp, Overview, RouteRuleInfo, ServerSettings, TestAnswer, TranscriptMessage,
    WidgetAppInfo, WidgetEmbed,
};
use chatlink_core::app::{
    KnowledgeEdit, LanguageInfo, LearnAs, LearnSuggestion, LinkEmbed, LookInfo, ProxyServer,
    ReachCheck, SimilarEntry, UnansweredQuestion,
};
use chatlink_core::brand::Look;
use chatlink_core::model::Knowledge;
use chatlink_core::model::now_ms;
use chatlink_core::secret::Sensitive;
use chatlink_core::tunnel::{TunnelChoice, TunnelStatus};
use tauri::image::Image;
use tauri::{AppHandle, State};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::desktop::Desktop;
use crate::types::{
    AgentEdit, CommandError, CreatedWidgetAppView, EmbeddingsForm, EngineForm, ExportForm,
    InboxFilterForm, NewAgentForm, NewLink, NewWidgetAppForm, ReachView, RouteRuleForm, Status,
};

type Reply<T> = Result<T, CommandError>;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[tauri::command]
pub fn status(desktop: State<'_, Desktop>) -> Status {
    desktop.status()
}

/// Home's counts; `since` is the start of the owner's day (ms), which only the window knows.
#[tauri::command]
pub async fn reach(desktop: State<'_, Desktop>) -> Reply<ReachView> {
    Ok(ReachView {
        reach: desktop.app()?.reach().await?,
        tunnel: desktop.tunnel_status(),
        tools: chatlink_core::tunnel::detect(),
    })
}

/// Fetches the self-test through the links' address now.
#[tauri::command]
pub async fn check_reach(desktop: State<'_, Desktop>) -> Reply<ReachCheck> {
    Ok(desktop.app()?.check_reach().await?)
}

#[tauri::command]
pub async fn start_tunnel(
    desktop: State<'_, Desktop>,
    choice: TunnelChoice,
) -> Reply<TunnelStatus> {
    desktop.start_tunnel(choice).await
}

#[tauri::command]
pub async fn stop_tunnel(desktop: State<'_, Desktop>) -> Reply<()> {
    desktop.stop_tunnel().await
}

#[tauri::command]
pub async fn dismiss_address_change(desktop: State<'_, Desktop>) -> Reply<()> {
    Ok(desktop.app()?.dismiss_address_change().await?)
}

/// Reverse-proxy settings for the owner's own address, for the port the server is on.
#[tauri::command]
pub async fn proxy_config(
    desktop: State<'_, Desktop>,
    server: ProxyServer,
    url: String,
) -> Reply<String> {
    Ok(chatlink_core::app::proxy_config(
        server,
        &url,
        desktop.port(),
    )?)
}

/// Home's counts; `since` is the start of the owner's day (ms), which only the window knows.
#[tauri::command]
pub async fn overview(desktop: State<'_, Desktop>, since: i64) -> Reply<Overview> {
    Ok(desktop.app()?.overview(since).await?)
}

#[tauri::command]
pub async fn get_settings(desktop: State<'_, Desktop>) -> Reply<ServerSettings> {
    Ok(desktop.app()?.server_settings().await?)
}

/// Saves the settings and moves the server when its address changed.
#[tauri::command]
pub async fn save_settings(
    desktop: State<'_, Desktop>,
    settings: ServerSettings,
) -> Reply<ServerSettings> {
    desktop.apply_settings(settings).await
}

#[tauri::command]
pub async fn list_links(desktop: State<'_, Desktop>) -> Reply<Vec<LinkInfo>> {
    Ok(desktop.app()?.links_with_urls().await?)
}

#[tauri::command]
pub async fn issue_link(desktop: State<'_, Desktop>, req: NewLink) -> Reply<LinkInfo> {
    let blank = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let link = IssueLink {
        suffix: blank(req.suffix),
        label: blank(req.label),
        expires_at: req
            .expires_in_days
            .map(|d| now_ms() + i64::from(d) * DAY_MS),
        ..IssueLink::chat(&req.folder)
    };
    Ok(desktop.app()?.issue_link(link).await?)
}

#[tauri::command]
pub async fn pause_link(desktop: State<'_, Desktop>, id: i64, paused: bool) -> Reply<LinkInfo> {
    Ok(desktop.app()?.pause_link(id, paused).await?)
}

#[tauri::command]
pub async fn revoke_link(desktop: State<'_, Desktop>, id: i64) -> Reply<LinkInfo> {
    Ok(desktop.app()?.revoke_link(id).await?)
}

#[tauri::command]
pub async fn reissue_link(desktop: State<'_, Desktop>, id: i64) -> Reply<LinkInfo> {
    Ok(desktop.app()?.reissue_link(id).await?)
}

#[tauri::command]
pub async fn link_qr_svg(desktop: State<'_, Desktop>, id: i64) -> Reply<String> {
    Ok(desktop.app()?.link_qr_svg(id).await?)
}

/// Opens the link in the preview window, on the local server, as a visitor's browser would.
#[tauri::command]
pub async fn open_preview(handle: AppHandle, desktop: State<'_, Desktop>, id: i64) -> Reply<()> {
    let path = desktop.app()?.chat_link_path(id).await?;
    let local = desktop.status().local_url.ok_or_else(|| CommandError {
        code: "unavailable".into(),
        message: "the chat server is not running, so there is nothing to preview".into(),
    })?;
    let url: tauri::Url = format!("{local}{path}").parse().map_err(|e| CommandError {
        code: "internal".into(),
        message: format!("cannot build the preview address: {e}"),
    })?;
    crate::preview::show(&handle, url).map_err(|e| CommandError {
        code: "internal".into(),
        message: format!("cannot open the preview window: {e}"),
    })
}

/// Puts the link's QR code on the clipboard as an image, ready to paste into a document.
#[tauri::command]
pub async fn copy_link_qr(handle: AppHandle, desktop: State<'_, Desktop>, id: i64) -> Reply<()> {
    let png = desktop.app()?.link_qr_png(id, 8).await?;
    let failed = |e: String| CommandError {
        code: "clipboard".into(),
        message: format!("cannot copy the QR code: {e}"),
    };
    let image = Image::from_bytes(&png).map_err(|e| failed(e.to_string()))?;
    handle
        .clipboard()
        .write_image(&image)
        .map_err(|e| failed(e.to_string()))
}

#[tauri::command]
pub async fn list_agents(desktop: State<'_, Desktop>) -> Reply<Vec<AgentInfo>> {
    Ok(desktop.app()?.agents().await?)
}

#[tauri::command]
pub async fn get_agent(desktop: State<'_, Desktop>, slug: String) -> Reply<AgentInfo> {
    Ok(desktop.app()?.agent(&slug).await?)
}

#[tauri::command]
pub async fn create_agent(desktop: State<'_, Desktop>, req: NewAgentForm) -> Reply<AgentInfo> {
    let new = NewAgent {
        slug: req.slug,
        name: req.name,
        greeting: req.greeting,
        instructions: req.instructions,
    };
    Ok(desktop.app()?.create_agent(new).await?)
}

#[tauri::command]
pub async fn update_agent(
    desktop: State<'_, Desktop>,
    slug: String,
    edit: AgentEdit,
) -> Reply<AgentInfo> {
    let engine = match edit.engine {
        EngineForm::Answers => EngineSetting::Answers,
        EngineForm::Openai { base_url, model } => EngineSetting::OpenAi { base_url, model },
    };
    let update = AgentUpdate {
        name: Some(edit.name),
        greeting: Some(edit.greeting),
        instructions: Some(edit.instructions),
        engine: Some(engine),
        max_tokens: edit.budget.map(|b| b.max_tokens),
        daily_requests: edit.budget.map(|b| b.daily_requests),
        daily_tokens: edit.budget.map(|b| b.daily_tokens),
    };
    Ok(desktop.app()?.update_agent(&slug, update).await?)
}

/// The key goes to the secret store; the window only ever learns "set" or "not set".
#[tauri::command]
pub async fn set_api_key(
    desktop: State<'_, Desktop>,
    slug: String,
    key: Option<String>,
) -> Reply<AgentInfo> {
    Ok(desktop
        .app()?
        .set_api_key(&slug, key.map(Sensitive::new))
        .await?)
}

/// Matches the agent's knowledge by meaning too, through this embeddings server; `None`: by
/// words alone.
#[tauri::command]
pub async fn set_embeddings(
    desktop: State<'_, Desktop>,
    slug: String,
    form: Option<EmbeddingsForm>,
) -> Reply<AgentInfo> {
    let setting = form.map(|f| EmbeddingsSetting {
        base_url: f.base_url,
        model: f.model,
    });
    Ok(desktop.app()?.set_embeddings(&slug, setting).await?)
}

/// The embeddings server's key goes to the secret store; the window only learns "set" or not.
#[tauri::command]
pub async fn set_embeddings_key(
    desktop: State<'_, Desktop>,
    slug: String,
    key: Option<String>,
) -> Reply<AgentInfo> {
    Ok(desktop
        .app()?
        .set_embeddings_key(&slug, key.map(Sensitive::new))
        .await?)
}

/// The agent's answer to the owner's test question, as a visitor of the suffix would get it.
#[tauri::command]
pub async fn ask_agent(
    desktop: State<'_, Desktop>,
    slug: String,
    suffix: Option<String>,
    question: String,
) -> Reply<TestAnswer> {
    Ok(desktop.app()?.ask_agent(&slug, suffix, &question).await?)
}

#[tauri::command]
pub async fn list_route_rules(
    desktop: State<'_, Desktop>,
    slug: String,
) -> Reply<Vec<RouteRuleInfo>> {
    Ok(desktop.app()?.route_rules(&slug).await?)
}

/// Sets a suffix's persona and greeting; both empty removes its rule.
#[tauri::command]
pub async fn set_route_rule(
    desktop: State<'_, Desktop>,
    slug: String,
    rule: RouteRuleForm,
) -> Reply<()> {
    let blank = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let jid = format!("web:{slug}/{}", rule.suffix.trim());
    Ok(desktop
        .app()?
        .set_route_rule(&jid, blank(rule.persona), blank(rule.greeting))
        .await?)
}

/// Removes a rule by its JID (as listed, including widget and hook rules the CLI set).
#[tauri::command]
pub async fn remove_route_rule(desktop: State<'_, Desktop>, jid: String) -> Reply<()> {
    Ok(desktop.app()?.set_route_rule(&jid, None, None).await?)
}

#[tauri::command]
pub async fn list_knowledge(desktop: State<'_, Desktop>, slug: String) -> Reply<Vec<Knowledge>> {
    Ok(desktop.app()?.knowledge(&slug).await?)
}

#[tauri::command]
pub async fn add_knowledge(
    desktop: State<'_, Desktop>,
    slug: String,
    question: Option<String>,
    answer: String,
) -> Reply<Knowledge> {
    Ok(desktop
        .app()?
        .add_knowledge(&slug, question, answer)
        .await?)
}

/// The whole entry at once (question, answer, other phrasings, language): all or nothing.
#[tauri::command]
pub async fn update_knowledge(
    desktop: State<'_, Desktop>,
    slug: String,
    id: i64,
    entry: KnowledgeEdit,
) -> Reply<Knowledge> {
    Ok(desktop.app()?.edit_knowledge(&slug, id, entry).await?)
}

/// The questions the agent handed off, most asked first.
#[tauri::command]
pub async fn list_unanswered(
    desktop: State<'_, Desktop>,
    slug: String,
) -> Reply<Vec<UnansweredQuestion>> {
    Ok(desktop.app()?.unanswered(&slug).await?)
}

#[tauri::command]
pub async fn dismiss_unanswered(
    desktop: State<'_, Desktop>,
    slug: String,
    key: String,
) -> Reply<()> {
    Ok(desktop.app()?.dismiss_unanswered(&slug, &key).await?)
}

/// What "Add to answers" offers for a conversation the owner answered.
#[tauri::command]
pub async fn learn_suggestion(
    desktop: State<'_, Desktop>,
    conversation_id: String,
) -> Reply<LearnSuggestion> {
    Ok(desktop.app()?.learn_suggestion(&conversation_id).await?)
}

/// Entries an unanswered question may be another way of asking.
#[tauri::command]
pub async fn similar_entries(
    desktop: State<'_, Desktop>,
    slug: String,
    question: String,
) -> Reply<Vec<SimilarEntry>> {
    Ok(desktop.app()?.similar_entries(&slug, &question).await?)
}

/// Adds a visitor's question to the knowledge: a new entry with `answer`, or, with
/// `phrasing_of`, another way of asking that entry; and takes the unanswered question `key`
/// off the list.
#[tauri::command]
pub async fn learn(
    desktop: State<'_, Desktop>,
    slug: String,
    question: String,
    answer: Option<String>,
    phrasing_of: Option<i64>,
    key: Option<String>,
) -> Reply<Knowledge> {
    let learn_as = LearnAs::from_parts(answer, phrasing_of)?;
    Ok(desktop
        .app()?
        .learn(&slug, &question, learn_as, key)
        .await?)
}

#[tauri::command]
pub async fn remove_knowledge(desktop: State<'_, Desktop>, slug: String, id: i64) -> Reply<()> {
    Ok(desktop.app()?.remove_knowledge(&slug, id).await?)
}

/// `path` comes from the window's open-file dialog.
#[tauri::command]
pub async fn import_knowledge(
    desktop: State<'_, Desktop>,
    slug: String,
    path: PathBuf,
) -> Reply<Vec<Knowledge>> {
    Ok(desktop.app()?.import_knowledge_file(&slug, &path).await?)
}

#[tauri::command]
pub async fn list_widget_apps(desktop: State<'_, Desktop>) -> Reply<Vec<WidgetAppInfo>> {
    Ok(desktop.app()?.widget_apps().await?)
}

#[tauri::command]
pub async fn create_widget_app(
    desktop: State<'_, Desktop>,
    req: NewWidgetAppForm,
) -> Reply<CreatedWidgetAppView> {
    let new = NewWidgetApp {
        folder: req.folder,
        name: req.name.filter(|n| !n.trim().is_empty()),
        origins: req.origins,
        token_ttl: req
            .token_ttl_minutes
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
    };
    let created = desktop.app()?.create_widget_app(new).await?;
    Ok(CreatedWidgetAppView {
        app: created.app,
        secret: created.secret.expose().clone(),
    })
}

/// Shows an appSecret again on the owner's explicit request.
#[tauri::command]
pub async fn reveal_app_secret(desktop: State<'_, Desktop>, app_id: String) -> Reply<String> {
    Ok(desktop
        .app()?
        .reveal_app_secret(&app_id)
        .await?
        .expose()
        .clone())
}

#[tauri::command]
pub async fn rotate_app_secret(desktop: State<'_, Desktop>, app_id: String) -> Reply<String> {
    Ok(desktop
        .app()?
        .rotate_app_secret(&app_id)
        .await?
        .expose()
        .clone())
}

#[tauri::command]
pub async fn revoke_widget_app(
    desktop: State<'_, Desktop>,
    app_id: String,
) -> Reply<WidgetAppInfo> {
    Ok(desktop.app()?.revoke_widget_app(&app_id).await?)
}

#[tauri::command]
pub async fn set_widget_app_origins(
    desktop: State<'_, Desktop>,
    app_id: String,
    origins: Vec<String>,
) -> Reply<WidgetAppInfo> {
    Ok(desktop
        .app()?
        .set_widget_app_origins(&app_id, origins)
        .await?)
}

#[tauri::command]
pub async fn widget_embed(desktop: State<'_, Desktop>, app_id: String) -> Reply<WidgetEmbed> {
    Ok(desktop.app()?.widget_embed(&app_id).await?)
}

#[tauri::command]
pub fn languages(desktop: State<'_, Desktop>) -> Reply<Vec<LanguageInfo>> {
    Ok(desktop.app()?.languages())
}

#[tauri::command]
pub async fn agent_look(desktop: State<'_, Desktop>, slug: String) -> Reply<LookInfo> {
    Ok(desktop.app()?.agent_look(&slug).await?)
}

/// What `look` would show, unsaved: the Look panel's live preview.
#[tauri::command]
pub async fn preview_look(
    desktop: State<'_, Desktop>,
    slug: String,
    look: Look,
) -> Reply<LookInfo> {
    Ok(desktop.app()?.preview_look(&slug, look).await?)
}

#[tauri::command]
pub async fn set_agent_look(
    desktop: State<'_, Desktop>,
    slug: String,
    look: Look,
) -> Reply<LookInfo> {
    Ok(desktop.app()?.set_agent_look(&slug, look).await?)
}

/// `bytes`: the file the owner picked, read by the window; the core checks what it is.
#[tauri::command]
pub async fn set_agent_logo(
    desktop: State<'_, Desktop>,
    slug: String,
    bytes: Vec<u8>,
) -> Reply<LookInfo> {
    Ok(desktop.app()?.set_agent_logo(&slug, bytes).await?)
}

/// A stored logo as a `data:` URL: the window's CSP lets images come from itself and `data:`
/// only, not from the local server that serves visitors `/logo/<id>`.
#[tauri::command]
pub async fn logo_image(desktop: State<'_, Desktop>, id: String) -> Reply<String> {
    let (kind, bytes) = desktop.app()?.logo(&id).await?;
    Ok(format!(
        "data:{};base64,{}",
        kind.mime(),
        BASE64_STANDARD.encode(bytes)
    ))
}

#[tauri::command]
pub async fn app_look(desktop: State<'_, Desktop>, app_id: String) -> Reply<Look> {
    Ok(desktop.app()?.app_look(&app_id).await?)
}

#[tauri::command]
pub async fn set_app_look(desktop: State<'_, Desktop>, app_id: String, look: Look) -> Reply<Look> {
    Ok(desktop.app()?.set_app_look(&app_id, look).await?)
}

/// A chat link's one-line embed for a site builder, and the websites it works on.
#[tauri::command]
pub async fn link_embed(desktop: State<'_, Desktop>, id: i64) -> Reply<LinkEmbed> {
    Ok(desktop.app()?.link_embed(id).await?)
}

#[tauri::command]
pub async fn set_link_origins(
    desktop: State<'_, Desktop>,
    id: i64,
    origins: Vec<String>,
) -> Reply<LinkInfo> {
    Ok(desktop.app()?.set_link_origins(id, origins).await?)
}

/// `path` comes from the window's save dialog; the format follows its extension.
#[tauri::command]
pub async fn save_link_qr(desktop: State<'_, Desktop>, id: i64, path: PathBuf) -> Reply<String> {
    let written = desktop.app()?.save_link_qr(id, &path).await?;
    Ok(written.display().to_string())
}

#[tauri::command]
pub async fn list_conversations(
    desktop: State<'_, Desktop>,
    filter: InboxFilterForm,
) -> Reply<Vec<ConversationSummary>> {
    let filter = InboxFilter {
        agent: filter.agent,
        jid: filter.jid,
        state: filter.state.filter(|s| !s.is_empty()),
        search: filter.search,
        limit: filter.limit.map(|l| l as usize),
        offset: filter.offset.unwrap_or(0) as usize,
    };
    Ok(desktop.app()?.inbox(filter).await?)
}

#[tauri::command]
pub async fn get_conversation(
    desktop: State<'_, Desktop>,
    id: String,
) -> Reply<ConversationDetail> {
    Ok(desktop.app()?.conversation(&id).await?)
}

#[tauri::command]
pub async fn take_over(desktop: State<'_, Desktop>, id: String) -> Reply<ConversationSummary> {
    Ok(desktop.app()?.take_over(&id).await?)
}

#[tauri::command]
pub async fn hand_back(desktop: State<'_, Desktop>, id: String) -> Reply<ConversationSummary> {
    Ok(desktop.app()?.hand_back(&id).await?)
}

#[tauri::command]
pub async fn resolve_conversation(
    desktop: State<'_, Desktop>,
    id: String,
) -> Reply<ConversationSummary> {
    Ok(desktop.app()?.resolve(&id).await?)
}

#[tauri::command]
pub async fn block_conversation(
    desktop: State<'_, Desktop>,
    id: String,
    blocked: bool,
) -> Reply<ConversationSummary> {
    Ok(desktop.app()?.block_conversation(&id, blocked).await?)
}

/// The owner's reply reaches the visitor's open page or widget at once.
#[tauri::command]
pub async fn owner_reply(
    desktop: State<'_, Desktop>,
    id: String,
    content: String,
) -> Reply<TranscriptMessage> {
    Ok(desktop.app()?.owner_reply(&id, &content).await?)
}

/// Per-day counts for a chart; `utc_offset_minutes` is the window's time zone (east positive).
#[tauri::command]
pub async fn activity(
    desktop: State<'_, Desktop>,
    days: u32,
    utc_offset_minutes: i32,
    link_id: Option<i64>,
) -> Reply<Vec<DayActivity>> {
    Ok(desktop
        .app()?
        .activity(days, utc_offset_minutes, link_id)
        .await?)
}

/// `path` comes from the save dialog; `.json` or `.csv` picks the format.
#[tauri::command]
pub async fn export_conversations(
    desktop: State<'_, Desktop>,
    scope: ExportForm,
    path: PathBuf,
) -> Reply<String> {
    let scope = match scope {
        ExportForm::Conversation { id } => ExportScope::Conversation(id),
        ExportForm::Between { from, to } => ExportScope::Between { from, to },
    };
    let written = desktop.app()?.export_to_file(scope, &path).await?;
    Ok(written.display().to_string())
}

#[tauri::command]
pub async fn get_retention(desktop: State<'_, Desktop>) -> Reply<Option<u32>> {
    Ok(desktop.app()?.retention_days().await?)
}

/// Sets how long conversations are kept (`null`: forever) and applies it; answers how many it
/// deleted.
#[tauri::command]
pub async fn set_retention(desktop: State<'_, Desktop>, days: Option<u32>) -> Reply<usize> {
    Ok(desktop.app()?.set_retention_days(days).await?)
}
