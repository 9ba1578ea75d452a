//! The shapes the window exchanges with the shell, beyond the core's own (`LinkInfo`,
//! `AgentInfo`): exported to TypeScript by ts-rs into `ui/src/bindings/`.

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
    /// The origin links are built from.
    pub base_url: String,
    pub data_dir: String,
    /// `keyring` or `file`.
    pub secrets: String,
    /// Why the app cannot work (e.g. no keyring), shown at the top of the window.
    pub problem: Option<CommandError>,
}

/// The "New link" form.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct NewLink {
    pub folder: String,
    pub suffix: Option<String>,
    pub label: Option<String>,
    pub expires_in_days: Option<u32>,
}
