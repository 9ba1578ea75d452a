//! The one `App` the window holds, and the chat server it runs in the background.
//!
//! Configuration comes from the environment, like the CLI's: `CHATLINK_DATA_DIR` (default: the
//! platform's data folder), `CHATLINK_SECRETS` (`keyring`, the default, or `file`) and
//! `CHATLINK_BIND` (default `127.0.0.1:8640`; when that port is taken the server takes a free
//! one rather than not starting, and Home shows where it is).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use chatlink_core::secret::SecretBackend;
use chatlink_core::{App, AppConfig, Error};

use crate::types::{CommandError, Status};

pub struct Desktop {
    app: Option<App>,
    problem: Option<CommandError>,
    data_dir: PathBuf,
    secrets: SecretBackend,
    local: Mutex<Option<SocketAddr>>,
}

/// Where the window's server listens unless `CHATLINK_BIND` says otherwise.
pub fn bind_from_env() -> SocketAddr {
    std::env::var("CHATLINK_BIND")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(SocketAddr::from((
            [127, 0, 0, 1],
            chatlink_core::app::DEFAULT_PORT,
        )))
}

fn config_from_env() -> Result<(PathBuf, SecretBackend), Error> {
    let data_dir = match std::env::var_os("CHATLINK_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => AppConfig::default_data_dir()?,
    };
    let secrets = match std::env::var("CHATLINK_SECRETS") {
        Ok(s) => SecretBackend::parse(&s)?,
        Err(_) => SecretBackend::Keyring,
    };
    if secrets == SecretBackend::Memory {
        return Err(Error::invalid(
            "CHATLINK_SECRETS=memory would forget the master key and make every link unreadable; use keyring or file",
        ));
    }
    Ok((data_dir, secrets))
}

impl Desktop {
    /// Opens the data folder. A failure (no keyring, a damaged folder) is kept as the window's
    /// problem to explain, not a crash.
    pub fn open() -> Desktop {
        match config_from_env() {
            Ok((data_dir, secrets)) => Desktop::open_with(data_dir, secrets),
            Err(e) => Desktop {
                app: None,
                problem: Some(e.into()),
                data_dir: PathBuf::new(),
                secrets: SecretBackend::Keyring,
                local: Mutex::new(None),
            },
        }
    }

    pub fn open_with(data_dir: PathBuf, secrets: SecretBackend) -> Desktop {
        let (app, problem) = match App::open(AppConfig::new(&data_dir, secrets)) {
            Ok(app) => (Some(app), None),
            Err(e) => {
                tracing::error!(code = e.code(), error = %e, "cannot open the data folder");
                (None, Some(e.into()))
            }
        };
        Desktop {
            app,
            problem,
            data_dir,
            secrets,
            local: Mutex::new(None),
        }
    }

    pub fn app(&self) -> Result<&App, CommandError> {
        self.app.as_ref().ok_or_else(|| {
            self.problem.clone().unwrap_or(CommandError {
                code: "internal".into(),
                message: "the app did not start".into(),
            })
        })
    }

    pub fn status(&self) -> Status {
        let local = self.local.lock().ok().and_then(|l| *l);
        Status {
            serving: local.is_some(),
            local_url: local.map(|a| format!("http://{a}")),
            base_url: self.app.as_ref().map(App::base_url).unwrap_or_default(),
            data_dir: self.data_dir.display().to_string(),
            secrets: self.secrets.as_str().to_owned(),
            problem: self.problem.clone(),
        }
    }

    /// Starts the chat server; returns once it listens (the serving runs on in the background).
    pub async fn start_server(&self, wanted: SocketAddr) -> Result<(), CommandError> {
        let app = self.app()?.clone();
        let listener = match tokio::net::TcpListener::bind(wanted).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(%wanted, error = %e, "port taken; serving on a free port instead");
                tokio::net::TcpListener::bind(SocketAddr::new(wanted.ip(), 0))
                    .await
                    .map_err(|e| {
                        CommandError::from(Error::io(
                            format!("cannot listen on {}", wanted.ip()),
                            e,
                        ))
                    })?
            }
        };
        let local = listener
            .local_addr()
            .map_err(|e| CommandError::from(Error::io("cannot read the bound address", e)))?;
        app.start_serving().await?;
        app.set_base_url(&format!("http://{local}"))?;
        if let Ok(mut l) = self.local.lock() {
            *l = Some(local);
        }
        tracing::info!(%local, "serving");
        tauri::async_runtime::spawn(async move {
            if let Err(e) = chatlink_core::http::serve(app, listener).await {
                tracing::error!(error = %e, "the chat server stopped");
            }
        });
        Ok(())
    }

    /// Ends every stream and lets running turns finish writing (up to 10 s).
    pub async fn shutdown(&self) {
        if let Some(app) = &self.app {
            app.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[tokio::test]
    async fn the_server_starts_and_takes_a_free_port_when_its_own_is_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let desktop = Desktop::open_with(dir.path().to_owned(), SecretBackend::File);
        let before = desktop.status();
        assert!(!before.serving && before.problem.is_none());
        assert_eq!(before.secrets, "file");
        let taken = std::net::TcpListener::bind(loopback(0)).expect("take a port");
        let port = taken.local_addr().expect("addr").port();
        desktop.start_server(loopback(port)).await.expect("start");
        let status = desktop.status();
        let local = status.local_url.expect("listening");
        assert!(status.serving);
        assert!(!local.ends_with(&format!(":{port}")), "{local}");
        assert_eq!(
            status.base_url, local,
            "links are built on the real address"
        );
        // A second window on the same data folder is refused, not a second server.
        let second = Desktop::open_with(dir.path().to_owned(), SecretBackend::File);
        let err = second.start_server(loopback(0)).await.expect_err("second");
        assert_eq!(err.code, "conflict");
        desktop.shutdown().await;
    }

    #[tokio::test]
    async fn a_folder_that_cannot_open_is_explained_not_a_crash() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Desktop::open_with(
            dir.path().to_owned(),
            SecretBackend::File,
        ));
        // The folder keeps its secrets in a file; asking for the keyring is refused with a fix.
        let desktop = Desktop::open_with(dir.path().to_owned(), SecretBackend::Keyring);
        let problem = desktop.status().problem.expect("a problem");
        assert_eq!(problem.code, "invalid_input");
        assert!(
            problem.message.contains("--secrets file"),
            "{}",
            problem.message
        );
        let err = desktop.app().expect_err("no app");
        assert_eq!(
            err, problem,
            "every command answers with the same explanation"
        );
        assert!(desktop.start_server(loopback(0)).await.is_err());
        assert!(!desktop.status().serving);
    }
}
