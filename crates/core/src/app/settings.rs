//! The window's server settings (port, who can reach it, public URL, tray, notifications), kept
//! in the data folder so the next start uses them. The headless `chatlink serve` takes its flags instead.
//!
//! Links are built from the public URL when one is set; otherwise from the address the server
//! listens on (the LAN address when it is open to the local network), so a copied link always
//! opens from where visitors are.

use serde::{Deserialize, Serialize};

use super::{App, DEFAULT_PORT};
use crate::error::{Error, Result};

const KEY: &str = "window_settings";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct ServerSettings {
    pub port: u16,
    /// Listen on every network interface (phones on the same Wi-Fi can open links), not only on
    /// this computer.
    pub lan: bool,
    /// Where visitors reach this server from outside (a tunnel or a proxy), e.g.
    /// `https://chat.example.com`; links are built on it when set.
    pub public_url: Option<String>,
    /// Closing the window keeps the server running in the tray.
    pub keep_in_tray: bool,
    /// A desktop notification when a visitor starts a conversation.
    pub notify_new_conversation: bool,
    /// A desktop notification when the agent hands a conversation over.
    pub notify_handoff: bool,
    /// Keep the computer from sleeping while links are public (a tunnel runs, or a public URL
    /// is set), so visitors do not find it asleep.
    pub keep_awake: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            port: DEFAULT_PORT,
            lan: false,
            public_url: None,
            keep_in_tray: true,
            notify_new_conversation: true,
            notify_handoff: true,
            keep_awake: false,
        }
    }
}

/// The URL without a trailing slash, if it is an http(s) URL with a host and nothing after the
/// path (links append `/chat/...` to it).
pub fn normalize_base_url(url: &str) -> Result<String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::invalid(format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::invalid(format!(
            "{url:?} must be an http:// or https:// URL with a host"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::invalid(format!(
            "{url:?} must not have a ?query or #fragment: links are added after it"
        )));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

fn validate(mut s: ServerSettings) -> Result<ServerSettings> {
    if s.port < 1024 {
        return Err(Error::invalid(format!(
            "port {} is reserved for the system; pick one from 1024 to 65535 (8640 is the usual)",
            s.port
        )));
    }
    s.public_url = match s.public_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => Some(normalize_base_url(url)?),
    };
    Ok(s)
}

impl App {
    /// The saved settings, or the defaults (this computer only, port 8640, keep in tray).
    pub async fn server_settings(&self) -> Result<ServerSettings> {
        self.blocking(|i| {
            Ok(match i.store.setting(KEY)? {
                Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "unreadable window settings; using the defaults");
                    ServerSettings::default()
                }),
                None => ServerSettings::default(),
            })
        })
        .await
    }

    /// Checks and saves the settings; returns them as saved (the URL normalized). Bad settings
    /// change nothing. The caller applies them (moves the listener, rebuilds the base URL).
    pub async fn save_server_settings(&self, settings: ServerSettings) -> Result<ServerSettings> {
        let settings = validate(settings)?;
        let json = serde_json::to_string(&settings)
            .map_err(|e| Error::Internal(format!("cannot encode the settings: {e}")))?;
        self.blocking(move |i| i.store.set_setting(KEY, &json))
            .await?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::test_app;
    use super::*;

    #[tokio::test]
    async fn defaults_then_saved_and_bad_input_changes_nothing() {
        let (_d, app) = test_app();
        let defaults = app.server_settings().await.expect("read");
        assert_eq!(defaults, ServerSettings::default());
        assert!(!defaults.lan && defaults.keep_in_tray && defaults.port == DEFAULT_PORT);

        let saved = app
            .save_server_settings(ServerSettings {
                port: 9000,
                lan: true,
                public_url: Some(" https://chat.example.com/ ".into()),
                keep_in_tray: false,
                notify_new_conversation: false,
                notify_handoff: true,
                keep_awake: true,
            })
            .await
            .expect("save");
        assert_eq!(
            saved.public_url.as_deref(),
            Some("https://chat.example.com")
        );
        assert_eq!(app.server_settings().await.expect("read"), saved);

        for bad in [
            ServerSettings {
                port: 80,
                ..ServerSettings::default()
            },
            ServerSettings {
                public_url: Some("ftp://example.com".into()),
                ..ServerSettings::default()
            },
            ServerSettings {
                public_url: Some("https://example.com/?a=1".into()),
                ..ServerSettings::default()
            },
            ServerSettings {
                public_url: Some("not a url".into()),
                ..ServerSettings::default()
            },
        ] {
            let err = app.save_server_settings(bad).await.expect_err("refused");
            assert_eq!(err.code(), "invalid_input", "{err}");
        }
        assert_eq!(app.server_settings().await.expect("read"), saved);

        // An empty public URL means none.
        let cleared = app
            .save_server_settings(ServerSettings {
                public_url: Some("  ".into()),
                ..saved
            })
            .await
            .expect("save");
        assert_eq!(cleared.public_url, None);
    }
}
