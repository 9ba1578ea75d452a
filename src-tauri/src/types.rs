//! The shapes the window exchanges with the shell, beyond the core's own (`LinkInfo`,
//! `AgentInfo`, `Knowledge`, `WidgetAppInfo`, `WidgetEmbed`): exported to TypeScript by ts-rs into
//! `ui/src/bindings/`.

use chatlink_core::Error;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Every command's error: the core's stable code and a readable message. The window shows the
/// message and branches only on the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        CommandError {
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

/// What Home shows about the server.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Status {
    pub serving: bool,
    /// `http://127.0.0.1:<port>` once the server listens.
    pub local_url: Option<String>,
    /// Whether it listens on the local network too, not only on this computer.
    pub lan: bool,
    /// `http://<this computer's LAN address>:<port>`, when it listens on the local network.
    pub lan_url: Option<String>,
    /// The origin links are built from.
    pub base_url: String,
    /// The computer is kept from sleeping now (the owner asked, and links are public).
    pub awake: bool,
    /// Why it could not be kept awake, when it should be.
    pub awake_problem: Option<String>,
    pub data_dir: String,
    /// `keyring` or `file`.
    pub secrets: String,
    /// Why the app cannot work (e.g. no keyring), shown at the top of the window.
    pub problem: Option<CommandError>,
}

/// Home's "who can open your links" and "go public": the address and its last check, the
/// running tunnel, and the tunnel tools on this computer.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReachView {
    pub reach: chatlink_core::app::Reach,
    pub tunnel: Option<chatlink_core::tunnel::TunnelStatus>,
    pub tools: Vec<chatlink_core::tunnel::TunnelTool>,
}

/// The "New link" form.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct NewLink {
    pub folder: String,
    pub suffix: Option<String>,
    pub label: Option<String>,
    pub expires_in_days: Option<u32>,
}

/// The "New agent" form.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct NewAgentForm {
    pub slug: String,
    pub name: String,
    pub greeting: String,
    pub instructions: String,
}

/// Which engine answers, as the agent form sets it. The API key is set on its own
/// (`set_api_key`) and never comes back to the window.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EngineForm {
    Answers,
    Openai { base_url: String, model: String },
}

/// Where the agent's knowledge is embedded to match by meaning too (semantic matching). Its
/// key is set on its own (`set_embeddings_key`) and never comes back to the window.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct EmbeddingsForm {
    pub base_url: String,
    pub model: String,
}

/// The agent form's fields, saved together.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct AgentEdit {
    pub name: String,
    pub greeting: String,
    pub instructions: String,
    pub engine: EngineForm,
    /// The agent's own spending limits, when the owner changed one; `null` keeps them.
    pub budget: Option<BudgetForm>,
}

/// A provider agent's spending limits, as the Agents screen edits them.
#[derive(Debug, Clone, Copy, Deserialize, TS)]
pub struct BudgetForm {
    pub max_tokens: u32,
    pub daily_requests: u32,
    #[ts(type = "number")]
    pub daily_tokens: u64,
}

/// The "New widget app" form.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct NewWidgetAppForm {
    pub folder: String,
    pub name: Option<String>,
    /// Websites allowed to embed it; empty means any.
    pub origins: Vec<String>,
    /// Session token lifetime; 15 when absent.
    pub token_ttl_minutes: Option<u32>,
}

/// A new widget app and its appSecret, which the window shows once (and again only on an
/// explicit reveal).
#[derive(Debug, Clone, Serialize, TS)]
pub struct CreatedWidgetAppView {
    pub app: chatlink_core::app::WidgetAppInfo,
    pub secret: String,
}

/// A suffix's overrides, as the agent form edits them: an empty field keeps the agent's own.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RouteRuleForm {
    pub suffix: String,
    pub persona: Option<String>,
    pub greeting: Option<String>,
}

/// The inbox's filters; empty fields show everything.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct InboxFilterForm {
    pub agent: Option<String>,
    pub jid: Option<String>,
    /// `open`, `handoff` or `resolved`.
    pub state: Option<String>,
    pub search: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// What to export: one conversation, or those with activity between two times (ms).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ExportForm {
    Conversation {
        id: String,
    },
    Between {
        #[ts(type = "number")]
        from: i64,
        #[ts(type = "number")]
        to: i64,
    },
}

/// Something happened to a conversation; the window refreshes what it shows (event
/// `owner-event`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct OwnerEventView {
    /// `started`, `updated`, `handoff`, `visitor_wrote` (in a conversation the owner has) or
    /// `budget_spent` (the conversation's agent is on built-in answers until tomorrow).
    #[ts(type = "\"started\" | \"updated\" | \"handoff\" | \"visitor_wrote\" | \"budget_spent\"")]
    pub kind: &'static str,
    pub conversation_id: String,
}

impl From<chatlink_core::hub::OwnerEvent> for OwnerEventView {
    fn from(e: chatlink_core::hub::OwnerEvent) -> Self {
        use chatlink_core::hub::OwnerEvent;
        let (kind, conversation_id) = match e {
            OwnerEvent::Started { conversation_id } => ("started", conversation_id),
            OwnerEvent::Updated { conversation_id } => ("updated", conversation_id),
            OwnerEvent::Handoff { conversation_id } => ("handoff", conversation_id),
            OwnerEvent::VisitorWrote { conversation_id } => ("visitor_wrote", conversation_id),
            OwnerEvent::BudgetSpent { conversation_id } => ("budget_spent", conversation_id),
        };
        OwnerEventView {
            kind,
            conversation_id,
        }
    }
}
