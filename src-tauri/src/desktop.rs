//! The one `App` the window holds, and the chat server it runs in the background.
//!
//! Configuration comes from the environment, like the CLI's: `CHATLINK_DATA_DIR` (default: the
//! platform's data folder) and `CHATLINK_SECRETS` (`keyring`, the default, or `file`). The
//! server listens where the saved settings say (127.0.0.1:8640 unless the owner chose another
//! port or the local network); `CHATLINK_BIND` overrides that address for one run (tests use
//! `127.0.0.1:0`). When the port is taken at start the server takes a free one rather than not
//! starting, and Home shows where it is. Saving settings moves the listener without a restart;
//! streams already open on the old one finish there.
//!
//! A tunnel the owner starts from Home runs beside the listener (see `chatlink_core::tunnel`);
//! while it is up, links are built on its address, and it starts again with the app. Quitting
//! stops it and waits for its process to end.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chatlink_core::app::{RunningTunnel, ServerSettings, Via};
use chatlink_core::secret::SecretBackend;
use chatlink_core::tunnel::{TunnelChoice, TunnelState, TunnelStatus};
use chatlink_core::{App, AppConfig, Error};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::types::{CommandError, Status};

pub struct Desktop {
    app: Option<App>,
    problem: Option<CommandError>,
    data_dir: PathBuf,
    secrets: SecretBackend,
    serving: Mutex<Option<Serving>>,
    settings: Mutex<ServerSettings>,
    tunnel: Mutex<Option<RunningTunnel>>,
    /// One tunnel start or stop at a time: two quick clicks must not start two tools.
    tunnel_ops: tokio::sync::Mutex<()>,
    awake: Awake,
}

/// The keep-awake lock lives on a thread of its own for as long as it is held: on Windows the
/// request belongs to the thread that made it, and on Linux taking it is a blocking D-Bus call.
struct Awake {
    want: std::sync::mpsc::Sender<bool>,
    /// Whether it is held now, and why not when it should be.
    state: std::sync::Arc<Mutex<(bool, Option<String>)>>,
}

impl Awake {
    fn start() -> Awake {
        let (want, wanted) = std::sync::mpsc::channel::<bool>();
        let state = std::sync::Arc::new(Mutex::new((false, None)));
        let shown = state.clone();
        let spawned = std::thread::Builder::new()
            .name("keep-awake".into())
            .spawn(move || {
                let mut lock = None;
                for on in wanted {
                    let problem = if !on {
                        lock = None;
                        None
                    } else if lock.is_some() {
                        None
                    } else {
                        match keepawake::Builder::default()
                            .idle(true)
                            .sleep(true)
                            .reason("Chatlink is serving your public chat links")
                            .app_name("Chatlink")
                            .app_reverse_domain("app.chatlink.desktop")
                            .create()
                        {
                            Ok(l) => {
                                tracing::info!("keeping the computer awake while links are public");
                                lock = Some(l);
                                None
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot keep the computer awake");
                                // The detail (a D-Bus error) is in the log; the window says it in words.
                                Some(
                                    "the system's power service did not answer or did not allow it"
                                        .to_owned(),
                                )
                            }
                        }
                    };
                    if let Ok(mut s) = shown.lock() {
                        *s = (lock.is_some(), problem);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no keep-awake thread");
        }
        Awake { want, state }
    }
}

/// Whether the computer should be kept awake: the owner asked, and links are public.
fn wants_awake(settings: &ServerSettings, tunnel_running: bool) -> bool {
    settings.keep_awake && (tunnel_running || settings.public_url.is_some())
}

/// The listener in use and how to stop it.
struct Serving {
    local: SocketAddr,
    stop: CancellationToken,
}

/// `CHATLINK_BIND`, when set to an address: where this run listens, whatever the settings say.
pub fn bind_from_env() -> Option<SocketAddr> {
    std::env::var("CHATLINK_BIND")
        .ok()
        .and_then(|b| b.parse().ok())
}

/// Where the settings say to listen: this computer only, or every interface.
fn listen_addr(settings: &ServerSettings) -> SocketAddr {
    let ip = if settings.lan {
        Ipv4Addr::UNSPECIFIED
    } else {
        Ipv4Addr::LOCALHOST
    };
    SocketAddr::new(IpAddr::V4(ip), settings.port)
}

/// This computer's address on the local network: the source address of the default route.
/// Connecting a UDP socket sends nothing; it only asks the kernel which interface it would use.
pub fn lan_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // 192.0.2.1 is TEST-NET-1: never a real host, always routed like the internet.
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The address this computer's browser uses to reach `local`.
fn loopback_of(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
    } else {
        local
    }
}

/// The LAN address a phone uses, when the server listens on every interface.
fn lan_of(local: SocketAddr) -> Option<SocketAddr> {
    local
        .ip()
        .is_unspecified()
        .then(|| lan_ip().map(|ip| SocketAddr::new(ip, local.port())))
        .flatten()
}

/// The origin links are built from: a running tunnel's address, the public URL, else where
/// visitors can reach the server.
fn address_for(
    settings: &ServerSettings,
    local: SocketAddr,
    tunnel: Option<String>,
) -> (String, Via) {
    if let Some(url) = tunnel {
        return (url, Via::Tunnel);
    }
    if let Some(public) = &settings.public_url {
        return (public.clone(), Via::Own);
    }
    let reach = lan_of(local).unwrap_or_else(|| loopback_of(local));
    (format!("http://{reach}"), Via::Listener)
}

fn data_dir_from_env() -> Result<PathBuf, Error> {
    match std::env::var_os("CHATLINK_DATA_DIR") {
        Some(d) => Ok(PathBuf::from(d)),
        None => AppConfig::default_data_dir(),
    }
}

/// `desktop.log` in the data folder, appended to (a second launch that hands over to the running
/// app must not wipe its log); `None` when the folder cannot be made.
pub fn log_file() -> Option<std::fs::File> {
    let dir = data_dir_from_env().ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    // The log names conversations and agents: the owner's account only, an older log too.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(dir.join("desktop.log")).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    Some(file)
}

fn config_from_env() -> Result<(PathBuf, SecretBackend), Error> {
    let data_dir = data_dir_from_env()?;
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

fn io_error(what: String, e: std::io::Error) -> CommandError {
    CommandError::from(Error::io(what, e))
}

impl Desktop {
    /// Opens the data folder. A failure (no keyring, a damaged folder) is kept as the window's
    /// problem to explain, not a crash.
    pub fn open() -> Desktop {
        match config_from_env() {
            Ok((data_dir, secrets)) => Desktop::open_with(data_dir, secrets),
            Err(e) => Desktop::failed(PathBuf::new(), SecretBackend::Keyring, e),
        }
    }

    pub fn open_with(data_dir: PathBuf, secrets: SecretBackend) -> Desktop {
        match App::open(AppConfig::new(&data_dir, secrets)) {
            Ok(app) => Desktop {
                app: Some(app),
                problem: None,
                data_dir,
                secrets,
                serving: Mutex::new(None),
                settings: Mutex::new(ServerSettings::default()),
                tunnel: Mutex::new(None),
                tunnel_ops: tokio::sync::Mutex::new(()),
                awake: Awake::start(),
            },
            Err(e) => {
                tracing::error!(code = e.code(), error = %e, "cannot open the data folder");
                Desktop::failed(data_dir, secrets, e)
            }
        }
    }

    fn failed(data_dir: PathBuf, secrets: SecretBackend, e: Error) -> Desktop {
        Desktop {
            app: None,
            problem: Some(e.into()),
            data_dir,
            secrets,
            serving: Mutex::new(None),
            settings: Mutex::new(ServerSettings::default()),
            tunnel: Mutex::new(None),
            tunnel_ops: tokio::sync::Mutex::new(()),
            awake: Awake::start(),
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

    fn local(&self) -> Option<SocketAddr> {
        self.serving
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| s.local))
    }

    /// Which notifications the owner wants: (new conversations, handoffs).
    pub fn notifications(&self) -> (bool, bool) {
        self.settings
            .lock()
            .map(|s| (s.notify_new_conversation, s.notify_handoff))
            .unwrap_or((true, true))
    }

    /// Whether closing the window keeps the server running in the tray.
    pub fn keep_in_tray(&self) -> bool {
        self.settings.lock().map(|s| s.keep_in_tray).unwrap_or(true)
    }

    pub fn status(&self) -> Status {
        let local = self.local();
        let (awake, awake_problem) = self.awake();
        Status {
            serving: local.is_some(),
            local_url: local.map(|a| format!("http://{}", loopback_of(a))),
            lan: local.is_some_and(|a| a.ip().is_unspecified()),
            lan_url: local.and_then(lan_of).map(|a| format!("http://{a}")),
            base_url: self.app.as_ref().map(App::base_url).unwrap_or_default(),
            awake,
            awake_problem,
            data_dir: self.data_dir.display().to_string(),
            secrets: self.secrets.as_str().to_owned(),
            problem: self.problem.clone(),
        }
    }

    /// Starts the chat server where the settings (or `CHATLINK_BIND`) say; returns once it
    /// listens (the serving runs on in the background).
    pub async fn start_server(&self, env_bind: Option<SocketAddr>) -> Result<(), CommandError> {
        let app = self.app()?;
        let settings = app.server_settings().await?;
        let wanted = env_bind.unwrap_or_else(|| listen_addr(&settings));
        let listener = match chatlink_core::http::bind(wanted) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(%wanted, error = %e, "port taken; serving on a free port instead");
                chatlink_core::http::bind(SocketAddr::new(wanted.ip(), 0))
                    .map_err(|e| io_error(format!("cannot listen on {}", wanted.ip()), e))?
            }
        };
        // The lock first: a refused second window must not repoint the running one's links.
        app.start_serving().await?;
        self.serve(listener, settings)
    }

    /// Saves the settings and applies them: moves the listener when the address changed, and
    /// rebuilds the links' base URL. When the new port is taken the server stays where it was
    /// and the error says so.
    pub async fn apply_settings(
        &self,
        settings: ServerSettings,
    ) -> Result<ServerSettings, CommandError> {
        let app = self.app()?;
        let saved = app.save_server_settings(settings).await?;
        let wanted = listen_addr(&saved);
        let Some(current) = self.local() else {
            // Not serving (the start failed): the next start uses the saved settings.
            self.remember(&saved);
            return Ok(saved);
        };
        if current == wanted {
            let (url, via) = address_for(&saved, current, self.tunnel_url());
            app.set_address(&url, via)?;
            self.remember(&saved);
            return Ok(saved);
        }
        self.stop_listening();
        match bind_soon(wanted, current.port() == wanted.port()).await {
            Ok(listener) => {
                self.serve(listener, saved.clone())?;
                Ok(saved)
            }
            Err(e) => {
                let back = bind_soon(current, true)
                    .await
                    .map_err(|e| io_error(format!("cannot listen on {current} again"), e))?;
                // Put the previous settings back, so the next start does not try the port either.
                let previous = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
                app.save_server_settings(previous.clone()).await?;
                self.serve(back, previous)?;
                Err(io_error(
                    format!(
                        "cannot listen on port {} (another program may be using it); the server stays on {}",
                        wanted.port(),
                        loopback_of(current)
                    ),
                    e,
                ))
            }
        }
    }

    fn remember(&self, settings: &ServerSettings) {
        if let Ok(mut s) = self.settings.lock() {
            *s = settings.clone();
        }
        self.update_awake();
    }

    /// Takes or releases the keep-awake lock to match the settings and the tunnel (on its own
    /// thread; the state shows a moment later).
    fn update_awake(&self) {
        let settings = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
        let running = self.tunnel.lock().map(|t| t.is_some()).unwrap_or(false);
        let _ = self.awake.want.send(wants_awake(&settings, running));
    }

    /// Whether the computer is kept awake now, and why not when it should be.
    pub fn awake(&self) -> (bool, Option<String>) {
        self.awake
            .state
            .lock()
            .map(|s| s.clone())
            .unwrap_or((false, None))
    }

    fn stop_listening(&self) {
        if let Some(old) = self.serving.lock().ok().and_then(|mut s| s.take()) {
            old.stop.cancel();
        }
    }

    /// Serves on `listener` in the background, with links built for where it listens.
    fn serve(&self, listener: TcpListener, settings: ServerSettings) -> Result<(), CommandError> {
        let app = self.app()?.clone();
        let local = listener
            .local_addr()
            .map_err(|e| io_error("cannot read the bound address".into(), e))?;
        let (url, via) = address_for(&settings, local, self.tunnel_url());
        app.set_address(&url, via)?;
        let stop = app.shutdown_token().child_token();
        if let Ok(mut s) = self.serving.lock() {
            *s = Some(Serving {
                local,
                stop: stop.clone(),
            });
        }
        self.remember(&settings);
        tracing::info!(%local, "serving");
        // On the runtime that registered the listener (Tauri's, in the app).
        tokio::spawn(async move {
            if let Err(e) = chatlink_core::http::serve_until(app, listener, stop).await {
                tracing::error!(error = %e, "the chat server stopped");
            }
        });
        Ok(())
    }

    /// The port the server listens on (the saved one while it is not serving).
    pub fn port(&self) -> u16 {
        self.local().map(|a| a.port()).unwrap_or_else(|| {
            self.settings
                .lock()
                .map(|s| s.port)
                .unwrap_or(chatlink_core::app::DEFAULT_PORT)
        })
    }

    /// The running tunnel's address while it is up.
    fn tunnel_url(&self) -> Option<String> {
        let status = self.tunnel_status()?;
        match status.state {
            TunnelState::Up { url } => Some(url),
            _ => None,
        }
    }

    pub fn tunnel_status(&self) -> Option<TunnelStatus> {
        self.tunnel
            .lock()
            .ok()
            .and_then(|t| t.as_ref().map(RunningTunnel::status))
    }

    /// Starts `choice` (stopping a running tunnel first) and remembers it for the next start.
    pub async fn start_tunnel(&self, choice: TunnelChoice) -> Result<TunnelStatus, CommandError> {
        let app = self.app()?;
        let choice = choice.checked()?;
        let _one = self.tunnel_ops.lock().await;
        self.end_tunnel().await;
        let running = app.start_tunnel(choice.clone()).await?;
        let status = running.status();
        if let Ok(mut t) = self.tunnel.lock() {
            *t = Some(running);
        }
        self.update_awake();
        app.set_tunnel_choice(Some(choice)).await?;
        Ok(status)
    }

    /// Stops the tunnel, forgets it, and builds links on this computer's own address again.
    pub async fn stop_tunnel(&self) -> Result<(), CommandError> {
        let app = self.app()?;
        let _one = self.tunnel_ops.lock().await;
        self.end_tunnel().await;
        self.update_awake();
        app.set_tunnel_choice(None).await?;
        if let Some(local) = self.local() {
            let settings = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
            let (url, via) = address_for(&settings, local, None);
            app.set_address(&url, via)?;
        }
        Ok(())
    }

    async fn end_tunnel(&self) {
        let running = self.tunnel.lock().ok().and_then(|mut t| t.take());
        if let Some(running) = running {
            running.stop().await;
        }
    }

    /// Starts the tunnel the owner chose last time; a failure is logged and shown on Home,
    /// never a reason not to start.
    pub async fn resume_tunnel(&self) {
        let Ok(app) = self.app() else { return };
        match app.tunnel_choice().await {
            Ok(Some(choice)) => {
                if let Err(e) = self.start_tunnel(choice).await {
                    tracing::warn!(code = %e.code, "the tunnel did not start: {}", e.message);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(code = e.code(), error = %e, "cannot read the tunnel choice"),
        }
    }

    /// Stops the tunnel (its process ends), ends every stream and lets running turns finish
    /// writing (up to 10 s).
    pub async fn shutdown(&self) {
        let had_tunnel = self.tunnel.lock().map(|t| t.is_some()).unwrap_or(false);
        self.end_tunnel().await;
        if let Some(app) = &self.app {
            // Other processes (the CLI) must not print links on a tunnel that is gone; the
            // choice stays, so the tunnel starts again with the app.
            if had_tunnel && let Some(local) = self.local() {
                let settings = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
                let (url, via) = address_for(&settings, local, None);
                if let Err(e) = app.set_address(&url, via) {
                    tracing::warn!(code = e.code(), "could not put the links' address back");
                }
            }
            app.shutdown().await;
        }
    }
}

/// Binds `addr`; when `retry` (the old listener on that port is still closing) tries again for
/// up to a second before giving up.
async fn bind_soon(addr: SocketAddr, retry: bool) -> std::io::Result<TcpListener> {
    let mut attempts = if retry { 20 } else { 1 };
    loop {
        match chatlink_core::http::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) if attempts > 1 && e.kind() == std::io::ErrorKind::AddrInUse => {
                attempts -= 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// `GET /healthz` on `addr`: whether a chatlink server answers there.
    fn healthy(addr: SocketAddr) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = String::new();
        s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").is_ok()
            && s.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.")
            && answer.contains(" 200 ")
    }

    /// Waits up to 2 s for the old listener to close (its task notices the stop on its own).
    async fn closes(addr: SocketAddr) -> bool {
        for _ in 0..40 {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[test]
    fn the_computer_is_kept_awake_only_when_asked_and_links_are_public() {
        let asked = ServerSettings {
            keep_awake: true,
            ..ServerSettings::default()
        };
        assert!(!wants_awake(&asked, false), "links on this computer only");
        assert!(wants_awake(&asked, true), "a tunnel runs");
        let own = ServerSettings {
            public_url: Some("https://chat.example.com".into()),
            ..asked.clone()
        };
        assert!(wants_awake(&own, false), "an own domain");
        let not_asked = ServerSettings {
            keep_awake: false,
            ..own
        };
        assert!(!wants_awake(&not_asked, true));
    }

    fn port_of(url: &str) -> u16 {
        url.rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    // Multi-threaded: `healthy` blocks its thread while the server answers on another.
    #[tokio::test(flavor = "multi_thread")]
    async fn saved_settings_move_the_server_and_rebuild_the_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let desktop = Desktop::open_with(dir.path().to_owned(), SecretBackend::File);
        desktop
            .start_server(Some(loopback(0)))
            .await
            .expect("start");
        let first = port_of(&desktop.status().local_url.expect("listening"));
        let app = desktop.app().expect("app").clone();

        let port = chatlink_test_support::free_port();
        let moved = ServerSettings {
            port,
            ..ServerSettings::default()
        };
        assert_eq!(
            desktop.apply_settings(moved.clone()).await.expect("save"),
            moved
        );
        let status = desktop.status();
        assert_eq!(
            status.local_url.as_deref(),
            Some(&*format!("http://127.0.0.1:{port}"))
        );
        assert!(!status.lan && status.lan_url.is_none());
        assert_eq!(status.base_url, format!("http://127.0.0.1:{port}"));
        assert!(
            healthy(loopback(port)),
            "the server answers on the new port"
        );
        assert!(
            closes(loopback(first)).await,
            "and no longer on the old one"
        );

        let public = ServerSettings {
            public_url: Some("https://chat.example.com/".into()),
            ..moved.clone()
        };
        desktop.apply_settings(public).await.expect("public URL");
        let links = app.links_with_urls().await.expect("links");
        assert!(
            links
                .iter()
                .filter_map(|l| l.url.as_deref())
                .all(|u| u.starts_with("https://chat.example.com/chat/")),
            "{links:?}"
        );
        assert!(healthy(loopback(port)), "the same listener still serves");

        // Open to the local network: every interface, links on the LAN address.
        let lan = ServerSettings {
            lan: true,
            ..moved.clone()
        };
        desktop.apply_settings(lan).await.expect("lan");
        let status = desktop.status();
        assert!(status.lan);
        assert!(healthy(loopback(port)), "this computer still reaches it");
        match lan_ip() {
            Some(ip) => {
                let lan_url = format!("http://{}", SocketAddr::new(ip, port));
                assert_eq!(status.lan_url.as_deref(), Some(&*lan_url));
                assert_eq!(status.base_url, lan_url);
                assert!(healthy(SocketAddr::new(ip, port)), "reached on {ip}");
            }
            None => assert_eq!(status.base_url, format!("http://127.0.0.1:{port}")),
        }
        assert!(app.server_settings().await.expect("read").lan, "remembered");
        desktop.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_taken_port_keeps_the_server_and_the_settings_where_they_were() {
        let dir = tempfile::tempdir().expect("tempdir");
        let desktop = Desktop::open_with(dir.path().to_owned(), SecretBackend::File);
        desktop
            .start_server(Some(loopback(0)))
            .await
            .expect("start");
        let before = desktop.status();
        let saved_before = desktop
            .app()
            .expect("app")
            .server_settings()
            .await
            .expect("read");
        let taken = std::net::TcpListener::bind(loopback(0)).expect("take a port");
        let port = taken.local_addr().expect("addr").port();
        let err = desktop
            .apply_settings(ServerSettings {
                port,
                ..ServerSettings::default()
            })
            .await
            .expect_err("taken");
        assert_eq!(err.code, "io");
        assert!(
            err.message.contains(&format!("port {port}")),
            "{}",
            err.message
        );
        assert!(err.message.contains("stays on"), "{}", err.message);
        let after = desktop.status();
        assert_eq!(after.local_url, before.local_url);
        assert!(healthy(loopback(port_of(&after.local_url.expect("url")))));
        assert_eq!(
            desktop
                .app()
                .expect("app")
                .server_settings()
                .await
                .expect("read"),
            saved_before,
            "the refused settings were not kept"
        );
        let bad = desktop
            .apply_settings(ServerSettings {
                port: 80,
                ..ServerSettings::default()
            })
            .await
            .expect_err("reserved");
        assert_eq!(bad.code, "invalid_input");
        desktop.shutdown().await;
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
        desktop
            .start_server(Some(loopback(port)))
            .await
            .expect("start");
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
        let err = second
            .start_server(Some(loopback(0)))
            .await
            .expect_err("second");
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
        assert!(desktop.start_server(Some(loopback(0))).await.is_err());
        assert!(!desktop.status().serving);
    }
}
