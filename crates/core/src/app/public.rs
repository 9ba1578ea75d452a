//! Whether visitors can reach this server: who the links' address serves (this computer, this
//! network, anyone on the internet), and the self-test that proves the address leads here.
//!
//! The self-test fetches `<address>/.well-known/chatlink/<nonce>` and expects a value only this
//! data folder's master key can produce (an HMAC of the nonce), so a proxy's error page, another
//! server or a stale DNS record never pass for "works". A second request on `…/<nonce>/stream`
//! sends its first event at once and its second two seconds later: when the first arrives only
//! with the second, something on the way holds streams until they end, and the chat page and
//! widget fall back to long-poll there. The check runs on this computer, so it proves the route,
//! not that every network outside can use it; the window says so.
//!
//! The address links are built on is saved in the data folder with how it came (the owner's own
//! domain, a tunnel Chatlink runs, or the local listener), so the CLI and every other process
//! build the same links as the server. A public address that changes leaves a note for the
//! window until the owner dismisses it: QR codes printed earlier still point at the old one.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use super::App;
use crate::error::{Error, Result};
use crate::model::now_ms;
use crate::tunnel::{Tunnel, TunnelChoice, TunnelStatus};

/// Where the proof lives, under any address that leads to this server.
pub const PROOF_PATH: &str = "/.well-known/chatlink/";
/// How often a public address is checked again while it is in use.
pub const CHECK_EVERY: Duration = Duration::from_secs(5 * 60);
/// How long one check may take, DNS and TLS included.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// The gap between the stream probe's two events; a first event that arrives this late was held.
pub const STREAM_GAP: Duration = Duration::from_secs(2);

const KEY_VIA: &str = "base_url_via";
const KEY_LAST_CHECK: &str = "reach_last_check";
const KEY_LAST_FAILURE: &str = "reach_last_failure";
const KEY_CHANGE: &str = "address_change";
const KEY_TUNNEL: &str = "tunnel_choice";
/// `reach_nonce.<nonce>` → until when (ms) the proof route answers for it.
const KEY_NONCE: &str = "reach_nonce.";
/// How long a check's nonce is answered: its two requests, with their timeouts.
const NONCE_LIFE: Duration = Duration::from_secs(30);

/// How the links' address leads here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The address the server listens on (this computer, or this network).
    Listener,
    /// An address the owner entered: their domain behind a reverse proxy, a VPS.
    Own,
    /// A tunnel Chatlink started and watches.
    Tunnel,
}

/// Who can open the links now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    ThisComputer,
    ThisNetwork,
    Internet,
}

/// Who an address serves: a loopback host only this computer, a private or link-local one
/// (or a `.local` name) the local network; a tunnel's address the internet, whatever its host.
pub fn audience_of(url: &str, via: Via) -> Audience {
    if via == Via::Tunnel {
        return Audience::Internet;
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Audience::ThisComputer;
    };
    let Some(host) = parsed.host_str() else {
        return Audience::ThisComputer;
    };
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return audience_of_ip(ip);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        Audience::ThisComputer
    } else if name.ends_with(".local") || name.ends_with(".lan") || !name.contains('.') {
        Audience::ThisNetwork
    } else {
        Audience::Internet
    }
}

fn audience_of_ip(ip: IpAddr) -> Audience {
    if ip.is_loopback() || ip.is_unspecified() {
        return Audience::ThisComputer;
    }
    let local = match ip {
        IpAddr::V4(v4) => {
            // 100.64.0.0/10: carrier-grade NAT, also Tailscale's own addresses.
            let cgnat = v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64;
            v4.is_private() || v4.is_link_local() || cgnat
        }
        // fc00::/7 unique local, fe80::/10 link-local.
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    };
    if local {
        Audience::ThisNetwork
    } else {
        Audience::Internet
    }
}

/// Why a check did not prove the address, in categories the window explains in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReachProblem {
    /// The name does not resolve (a new DNS record may not have spread yet).
    Dns,
    /// Nothing listens there (the tunnel or proxy is not running).
    Refused,
    /// No answer in time.
    Timeout,
    /// The TLS handshake failed (no certificate yet, or one for another name).
    Tls,
    /// A tunnel or proxy answers but cannot reach Chatlink (502, 503, 504, Cloudflare's 530).
    Unavailable,
    /// Something answers, but not this server (another site, a captive page, a stale record).
    WrongServer,
}

impl ReachProblem {
    fn words(self) -> &'static str {
        match self {
            ReachProblem::Dns => {
                "the address's name is not found yet; a new DNS record can take a few minutes to reach everyone"
            }
            ReachProblem::Refused => {
                "nothing answers at that address; is the tunnel or the proxy running?"
            }
            ReachProblem::Timeout => "the address did not answer within 10 seconds",
            ReachProblem::Tls => {
                "the secure connection failed: the address has no valid certificate for its name yet"
            }
            ReachProblem::Unavailable => {
                "the tunnel or proxy answers but cannot reach Chatlink on this computer"
            }
            ReachProblem::WrongServer => {
                "another server answers at that address, not this Chatlink"
            }
        }
    }
}

/// One self-test of the links' address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReachCheck {
    pub url: String,
    pub audience: Audience,
    /// When it ran, in ms since the epoch.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub checked_at: i64,
    /// The address led to this server.
    pub works: bool,
    /// Streamed replies pass as they are written (`false`: held until they end, so pages use
    /// the long-poll fallback); unknown when the address did not work.
    pub streams: Option<bool>,
    pub problem: Option<ReachProblem>,
    /// What happened, in plain words.
    pub message: String,
}

impl ReachCheck {
    /// Works, and for anyone on the internet: what `chatlink public check` exits 0 on.
    pub fn public(&self) -> bool {
        self.works && self.audience == Audience::Internet
    }
}

/// An address change that leaves printed QR codes pointing at the old address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AddressChange {
    pub from: String,
    pub to: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
}

/// What Home shows about reachability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reach {
    pub base_url: String,
    pub via: Via,
    pub audience: Audience,
    pub last_check: Option<ReachCheck>,
    /// The last check that failed, in ms since the epoch.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_unreachable_at: Option<i64>,
    pub address_change: Option<AddressChange>,
}

/// A nonce a client may send: 16 to 64 URL-safe characters.
fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CHECK_TIMEOUT)
        .connect_timeout(CHECK_TIMEOUT)
        // A redirect to a login page or another site must not pass for this server.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Sorts a failed request into a problem. reqwest exposes timeouts and connection failures
/// as kinds; DNS and TLS failures only in the error chain's text.
fn problem_of(e: &reqwest::Error) -> ReachProblem {
    if e.is_timeout() {
        return ReachProblem::Timeout;
    }
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return ReachProblem::Refused;
        }
        chain.push_str(&err.to_string().to_ascii_lowercase());
        chain.push(' ');
        source = err.source();
    }
    if chain.contains("dns error") || chain.contains("failed to lookup") {
        ReachProblem::Dns
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("handshake")
    {
        ReachProblem::Tls
    } else if chain.contains("timed out") {
        ReachProblem::Timeout
    } else {
        ReachProblem::Refused
    }
}

impl App {
    /// The answer to `GET /.well-known/chatlink/<nonce>`: only for a nonce a check of this data
    /// folder is waiting on, so strangers cannot use the proof to tell that two addresses (a
    /// tunnel's and the shop's own) lead to the same server. Anything else is not found.
    pub async fn reach_proof(&self, nonce: &str) -> Result<String> {
        if !valid_nonce(nonce) {
            return Err(Error::NotFound { what: "page" });
        }
        let key = format!("{KEY_NONCE}{nonce}");
        let pending = self.blocking(move |i| i.store.setting(&key)).await?;
        let live = pending
            .and_then(|until| until.parse::<i64>().ok())
            .is_some_and(|until| until >= now_ms());
        if !live {
            return Err(Error::NotFound { what: "page" });
        }
        self.proof_of(nonce)
    }

    fn proof_of(&self, nonce: &str) -> Result<String> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.keys.proof.expose())
            .map_err(|_| Error::Internal("the proof key has a bad length".into()))?;
        mac.update(nonce.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Makes a nonce the proof route answers for [`NONCE_LIFE`] (any process may serve it, so
    /// it is kept in the database), and forgets expired ones.
    async fn pending_nonce(&self) -> Result<String> {
        let nonce = URL_SAFE_NO_PAD.encode(crate::token::random_bytes::<18>());
        let key = format!("{KEY_NONCE}{nonce}");
        let until = (now_ms() + NONCE_LIFE.as_millis() as i64).to_string();
        self.blocking(move |i| {
            let now = now_ms();
            for (old, at) in i.store.settings_with_prefix(KEY_NONCE)? {
                if at.parse::<i64>().map_or(true, |at| at < now) {
                    i.store.delete_setting(&format!("{KEY_NONCE}{old}"))?;
                }
            }
            i.store.set_setting(&key, &until)
        })
        .await?;
        Ok(nonce)
    }

    async fn forget_nonce(&self, nonce: &str) {
        let key = format!("{KEY_NONCE}{nonce}");
        if let Err(e) = self.blocking(move |i| i.store.delete_setting(&key)).await {
            tracing::debug!(code = e.code(), "could not forget a check's nonce");
        }
    }

    /// How the current links' address leads here.
    pub fn base_via(&self) -> Via {
        self.0
            .store
            .setting(KEY_VIA)
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_value(serde_json::Value::String(v)).ok())
            .unwrap_or(Via::Listener)
    }

    /// Sets the links' address and how it leads here; a change away from an address visitors
    /// may have been given (not this computer's own) is kept for the window to warn about.
    pub fn set_address(&self, url: &str, via: Via) -> Result<()> {
        let before = self.base_url();
        let before_via = self.base_via();
        self.store_base_url(url)?;
        let after = self.base_url();
        let via_name = serde_json::to_value(via)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        self.0.store.set_setting(KEY_VIA, &via_name)?;
        let changed = before != after;
        let shared =
            !before.is_empty() && audience_of(&before, before_via) != Audience::ThisComputer;
        if changed && shared {
            let change = AddressChange {
                from: before,
                to: after.clone(),
                at: now_ms(),
            };
            let json = serde_json::to_string(&change)
                .map_err(|e| Error::Internal(format!("cannot encode the change: {e}")))?;
            self.0.store.set_setting(KEY_CHANGE, &json)?;
        }
        if changed {
            // A check of the old address says nothing about the new one.
            self.0.store.delete_setting(KEY_LAST_CHECK)?;
            self.0.reach_changed.notify_one();
        }
        Ok(())
    }

    /// The tunnel the window runs at start, if the owner chose one.
    pub async fn tunnel_choice(&self) -> Result<Option<TunnelChoice>> {
        let json = self.blocking(|i| i.store.setting(KEY_TUNNEL)).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Remembers (or forgets) the tunnel to run at start; a bad choice changes nothing.
    pub async fn set_tunnel_choice(&self, choice: Option<TunnelChoice>) -> Result<()> {
        let json = choice
            .map(|c| c.checked())
            .transpose()?
            .map(|c| serde_json::to_string(&c))
            .transpose()
            .map_err(|e| Error::Internal(format!("cannot encode the tunnel: {e}")))?;
        self.blocking(move |i| match json {
            Some(j) => i.store.set_setting(KEY_TUNNEL, &j),
            None => i.store.delete_setting(KEY_TUNNEL),
        })
        .await
    }

    /// The owner has seen the warning about printed QR codes.
    pub async fn dismiss_address_change(&self) -> Result<()> {
        self.blocking(|i| i.store.delete_setting(KEY_CHANGE)).await
    }

    /// Who can open the links, the last self-test and the last failure.
    pub async fn reach(&self) -> Result<Reach> {
        let base_url = self.base_url();
        let via = self.base_via();
        let (last_check, last_failure, change) = self
            .blocking(|i| {
                Ok((
                    i.store.setting(KEY_LAST_CHECK)?,
                    i.store.setting(KEY_LAST_FAILURE)?,
                    i.store.setting(KEY_CHANGE)?,
                ))
            })
            .await?;
        Ok(Reach {
            audience: audience_of(&base_url, via),
            base_url,
            via,
            last_check: last_check.and_then(|j| serde_json::from_str(&j).ok()),
            last_unreachable_at: last_failure.and_then(|v| v.parse().ok()),
            address_change: change.and_then(|j| serde_json::from_str(&j).ok()),
        })
    }

    /// Fetches the proof through the links' address (and, when that works, the stream probe),
    /// and records the result for Home.
    pub async fn check_reach(&self) -> Result<ReachCheck> {
        let url = self.base_url();
        let via = self.base_via();
        let check = check_address(self, &url, via).await;
        let json = serde_json::to_string(&check)
            .map_err(|e| Error::Internal(format!("cannot encode the check: {e}")))?;
        let works = check.works;
        let at = check.checked_at;
        // A check of an address that changed meanwhile says nothing about the new one.
        if self.base_url() != url {
            return Ok(check);
        }
        self.blocking(move |i| {
            i.store.set_setting(KEY_LAST_CHECK, &json)?;
            if !works {
                i.store.set_setting(KEY_LAST_FAILURE, &at.to_string())?;
            }
            Ok(())
        })
        .await?;
        if !works {
            tracing::warn!(url = %check.url, problem = ?check.problem, "the public address does not lead here");
        }
        Ok(check)
    }

    /// Checks the links' address while it is public (an owner's address or a tunnel): soon
    /// after a change, then every [`CHECK_EVERY`]. Nothing at start: `serve --public-url` checks
    /// once itself, a tunnel's address is a change, and Home shows the last check recorded.
    /// Runs until shutdown.
    pub(super) async fn watch_reach(&self) {
        loop {
            tokio::select! {
                _ = self.0.shutdown.cancelled() => return,
                _ = tokio::time::sleep(CHECK_EVERY) => {}
                // A new address is checked once its route had a moment to come up.
                _ = self.0.reach_changed.notified() => {
                    tokio::select! {
                        _ = self.0.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
            if self.base_via() == Via::Listener {
                continue;
            }
            if let Err(e) = self.check_reach().await {
                tracing::warn!(code = e.code(), error = %e, "could not record the address check");
            }
        }
    }
}

/// A tunnel and the loopback listener it forwards to; [`RunningTunnel::stop`] ends both and
/// waits for the tool's process, dropping it ends both without waiting.
pub struct RunningTunnel {
    tunnel: Tunnel,
    listener: CancellationToken,
    /// Where the tunnel forwards to.
    pub target: SocketAddr,
}

impl Drop for RunningTunnel {
    fn drop(&mut self) {
        self.listener.cancel();
    }
}

impl RunningTunnel {
    pub fn status(&self) -> TunnelStatus {
        self.tunnel.status()
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<TunnelStatus> {
        self.tunnel.subscribe()
    }

    /// Kills the tool, waits for it, and closes its listener.
    pub async fn stop(mut self) {
        self.tunnel.stop().await;
        self.listener.cancel();
    }
}

impl App {
    /// Starts a tunnel to a loopback listener of its own (so the address it forwards is
    /// believed from it alone); each address it reports becomes the links' address. The caller
    /// puts its own address back after [`RunningTunnel::stop`].
    pub async fn start_tunnel(&self, choice: TunnelChoice) -> Result<RunningTunnel> {
        let listener = crate::http::bind(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)))
            .map_err(|e| Error::io("cannot listen on this computer for the tunnel", e))?;
        let target = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the tunnel's listener address", e))?;
        let app = self.clone();
        let tunnel = Tunnel::start(choice.clone(), target, move |url| {
            if let Err(e) = app.set_address(url, Via::Tunnel) {
                tracing::warn!(code = e.code(), error = %e, "the tunnel reported an unusable address");
            }
        })?;
        let stop = self.0.shutdown.child_token();
        let app = self.clone();
        let serving = stop.clone();
        tokio::spawn(async move {
            if let Err(e) =
                crate::http::serve_tunnel_until(app, listener, serving, choice.kind.forwarded())
                    .await
            {
                tracing::error!(error = %e, "the tunnel's listener stopped");
            }
        });
        Ok(RunningTunnel {
            tunnel,
            listener: stop,
            target,
        })
    }
}

async fn check_address(app: &App, url: &str, via: Via) -> ReachCheck {
    let audience = audience_of(url, via);
    let done =
        |works: bool, streams: Option<bool>, problem: Option<ReachProblem>, message: String| {
            ReachCheck {
                url: url.to_owned(),
                audience,
                checked_at: now_ms(),
                works,
                streams,
                problem,
                message,
            }
        };
    let proof = match app.pending_nonce().await {
        Ok(nonce) => app.proof_of(&nonce).map(|p| (nonce, p)),
        Err(e) => Err(e),
    };
    let Ok((nonce, expected)) = proof else {
        return done(false, None, None, "could not start the check".into());
    };
    let check = fetch_proof(url, &nonce, &expected).await;
    app.forget_nonce(&nonce).await;
    match check {
        Err(p) => done(false, None, Some(p), p.words().to_owned()),
        Ok(streams) => {
            let reach = match audience {
                Audience::Internet => "works through your public address",
                Audience::ThisNetwork => "works, but only for devices on this network",
                Audience::ThisComputer => "works, but only on this computer",
            };
            let message = match streams {
                Some(false) => format!(
                    "{reach}; something on the way holds streamed replies until they end, so chat pages use the slower fallback there"
                ),
                _ => reach.to_owned(),
            };
            done(true, streams, None, message)
        }
    }
}

/// Fetches the proof of `nonce` through `url`, then the stream probe; whether streams pass.
async fn fetch_proof(
    url: &str,
    nonce: &str,
    expected: &str,
) -> std::result::Result<Option<bool>, ReachProblem> {
    let client = http_client();
    let res = client
        .get(format!("{url}{PROOF_PATH}{nonce}"))
        .send()
        .await
        .map_err(|e| problem_of(&e))?;
    let status = res.status().as_u16();
    if matches!(status, 502..=504 | 521..=530) {
        return Err(ReachProblem::Unavailable);
    }
    // A proof is 43 characters; more is some other page.
    let body = read_at_most(res, 256).await;
    if status != 200 || body.trim() != expected {
        return Err(ReachProblem::WrongServer);
    }
    Ok(streams_through(&client, url, nonce).await)
}

async fn read_at_most(res: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    let mut chunks = res.bytes_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// Whether the stream probe's first event arrives well before its second (sent
/// [`STREAM_GAP`] later): held streams deliver both at once. Timed between the two events, so a
/// slow connection or handshake does not count; `None` when the probe itself failed.
async fn streams_through(client: &reqwest::Client, url: &str, nonce: &str) -> Option<bool> {
    let res = client
        .get(format!("{url}{PROOF_PATH}{nonce}/stream"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())?;
    let mut chunks = res.bytes_stream();
    let mut seen = Vec::new();
    let mut proof_at = None;
    while let Some(Ok(chunk)) = chunks.next().await {
        seen.extend_from_slice(&chunk);
        let text = String::from_utf8_lossy(&seen);
        if proof_at.is_none() && text.contains("event: proof") {
            proof_at = Some(Instant::now());
        }
        if text.contains("event: end") {
            return proof_at.map(|at| at.elapsed() >= STREAM_GAP / 2);
        }
        if seen.len() > 4096 {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_util::test_app;
    use super::*;

    #[test]
    fn who_an_address_serves() {
        for (url, via, who) in [
            (
                "http://127.0.0.1:8640",
                Via::Listener,
                Audience::ThisComputer,
            ),
            ("http://localhost:8640", Via::Own, Audience::ThisComputer),
            ("http://[::1]:8640", Via::Own, Audience::ThisComputer),
            (
                "http://192.168.1.20:8640",
                Via::Listener,
                Audience::ThisNetwork,
            ),
            ("http://10.0.0.5", Via::Own, Audience::ThisNetwork),
            ("http://100.101.102.103", Via::Own, Audience::ThisNetwork),
            ("http://shop.local:8640", Via::Own, Audience::ThisNetwork),
            ("http://[fd00::1]", Via::Own, Audience::ThisNetwork),
            ("https://chat.example.com", Via::Own, Audience::Internet),
            ("http://203.0.113.9:8640", Via::Own, Audience::Internet),
            // A tunnel forwards from the internet, whatever its address looks like from here.
            ("http://127.0.0.1:9000", Via::Tunnel, Audience::Internet),
            ("not a url", Via::Own, Audience::ThisComputer),
        ] {
            assert_eq!(audience_of(url, via), who, "{url}");
        }
    }

    #[tokio::test]
    async fn the_proof_answers_only_a_pending_nonce_of_this_data_folder() {
        let (_d, app) = test_app();
        // A nonce no check is waiting on is not found, well-formed or not: no oracle.
        for nonce in [
            "abcdefghijklmnop",
            "short",
            "has a space in it!!",
            &"x".repeat(65),
        ] {
            assert_eq!(
                app.reach_proof(nonce).await.map_err(|e| e.code()),
                Err("not_found"),
                "{nonce}"
            );
        }
        let nonce = app.pending_nonce().await.expect("nonce");
        let proof = app.reach_proof(&nonce).await.expect("proof");
        assert_eq!(proof, app.proof_of(&nonce).expect("same"));
        assert_ne!(
            proof,
            app.proof_of("abcdefghijklmnop").expect("another nonce")
        );
        let (_d2, other) = test_app();
        assert_ne!(other.proof_of(&nonce).expect("other key"), proof);
        app.forget_nonce(&nonce).await;
        assert_eq!(
            app.reach_proof(&nonce).await.map_err(|e| e.code()),
            Err("not_found")
        );
    }

    #[tokio::test]
    async fn a_changed_public_address_is_remembered_until_dismissed() {
        let (_d, app) = test_app();
        app.set_address("http://127.0.0.1:8640", Via::Listener)
            .expect("local");
        app.set_address("https://a.trycloudflare.com", Via::Tunnel)
            .expect("tunnel");
        // From this computer's own address: nothing was given out, nothing to warn about.
        let reach = app.reach().await.expect("reach");
        assert_eq!(
            (reach.via, reach.audience),
            (Via::Tunnel, Audience::Internet)
        );
        assert_eq!(reach.address_change, None);

        app.set_address("https://b.trycloudflare.com", Via::Tunnel)
            .expect("new tunnel");
        let change = app
            .reach()
            .await
            .expect("reach")
            .address_change
            .expect("a change");
        assert_eq!(
            (change.from.as_str(), change.to.as_str()),
            ("https://a.trycloudflare.com", "https://b.trycloudflare.com")
        );
        // The same address again changes nothing.
        app.set_address("https://b.trycloudflare.com", Via::Tunnel)
            .expect("same");
        assert_eq!(
            app.reach().await.expect("reach").address_change,
            Some(change)
        );
        app.dismiss_address_change().await.expect("dismiss");
        assert_eq!(app.reach().await.expect("reach").address_change, None);
        // A bad address changes nothing.
        assert!(app.set_address("ftp://x", Via::Own).is_err());
        assert_eq!(app.base_url(), "https://b.trycloudflare.com");
        assert_eq!(app.base_via(), Via::Tunnel);
    }
}
