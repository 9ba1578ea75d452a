//! Every bound on what strangers can send or hold, as named settings: connection timeouts and
//! caps, sizes, rates per link, conversation, widget app, end user and client address, streams,
//! and turn deadlines. `docs/limits.md` is the table of them; `chatlink limits` shows and sets
//! them (saved in the data folder, read at start), and `serve --limit name=value` overrides one
//! for a run.
//!
//! Client addresses are counted as [`ClientKey`]s: an IPv6 client is its /64, since one
//! subscriber usually gets a whole /64 and could otherwise pick a fresh address per request.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Error, Result};
use crate::hub::Switch;

/// A value a limit can hold, written and read as text (`10s`, `4000`, `127.0.0.1,::1`).
pub trait LimitValue: Sized {
    fn parse_limit(text: &str) -> std::result::Result<Self, String>;
    fn show(&self) -> String;
}

macro_rules! int_limit {
    ($($t:ty),*) => {$(
        impl LimitValue for $t {
            fn parse_limit(text: &str) -> std::result::Result<Self, String> {
                let text = text.trim().replace('_', "");
                let n: $t = text.parse().map_err(|_| format!("`{text}` is not a whole number"))?;
                if n == 0 {
                    return Err("must be at least 1".into());
                }
                Ok(n)
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_limit!(u32, u64, usize);

impl LimitValue for Duration {
    fn parse_limit(text: &str) -> std::result::Result<Self, String> {
        let d = humantime::parse_duration(text.trim())
            .map_err(|e| format!("`{}` is not a duration like 10s or 2m: {e}", text.trim()))?;
        if d < Duration::from_millis(100) {
            return Err("must be at least 100ms".into());
        }
        Ok(d)
    }
    fn show(&self) -> String {
        humantime::format_duration(*self).to_string()
    }
}

/// Reverse proxies and tunnels this server trusts (IPs or CIDRs, `10.0.0.0/8`): only their
/// `X-Forwarded-For` is believed, and their connections are exempt from the per-client
/// connection cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrList(pub Vec<ipnet::IpNet>);

impl AddrList {
    /// Whether `ip` is one of these proxies (an IPv4 in IPv6 form too).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl LimitValue for AddrList {
    fn parse_limit(text: &str) -> std::result::Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| format!("`{s}` is not an IP address or a CIDR like 10.0.0.0/8"))
            })
            .collect::<std::result::Result<_, _>>()
            .map(AddrList)
    }
    fn show(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|n| {
                if n.prefix_len() == n.max_prefix_len() {
                    n.addr().to_string()
                } else {
                    n.to_string()
                }
            })
            .collect();
        parts.join(",")
    }
}

/// The visitor behind a connection from `peer`: `peer` itself, unless it is a trusted proxy;
/// then the rightmost address in its `X-Forwarded-For` values that is not a trusted proxy
/// (each proxy appends the address it saw, so everything left of the last untrusted hop may be
/// forged). A header with nothing usable leaves the proxy's own address.
pub fn client_behind<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &AddrList,
) -> IpAddr {
    if !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
    for hop in hops.into_iter().rev() {
        let hop = hop.trim();
        let Ok(ip) = hop
            .parse::<IpAddr>()
            .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|a| a.ip()))
        else {
            // A garbled hop: nothing left of it can be trusted either.
            return peer;
        };
        if !trusted.contains(ip) {
            return ip.to_canonical();
        }
    }
    peer
}

/// One row of the limits table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LimitInfo {
    pub name: &'static str,
    pub value: String,
    pub default: String,
    pub about: &'static str,
}

macro_rules! limits {
    ($($(#[doc = $doc:literal])+ $name:ident: $t:ty = $default:expr,)*) => {
        /// Every bound on what visitors can send or hold. The defaults suit one shop on the open
        /// internet; the bench raises the rates.
        #[derive(Debug, Clone)]
        pub struct Limits {
            $($(#[doc = $doc])+ pub $name: $t,)*
        }

        impl Default for Limits {
            fn default() -> Limits {
                Limits { $($name: $default,)* }
            }
        }

        impl Limits {
            /// Every limit with its value, its default and what it bounds, in the docs' order.
            pub fn table(&self) -> Vec<LimitInfo> {
                let defaults = Limits::default();
                vec![$(LimitInfo {
                    name: stringify!($name),
                    value: LimitValue::show(&self.$name),
                    default: LimitValue::show(&defaults.$name),
                    about: concat!($($doc),+).trim_ascii(),
                },)*]
            }

            /// Sets the limit called `name` from its text form; a bad name or value changes
            /// nothing.
            pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
                match name {
                    $(stringify!($name) => {
                        self.$name = LimitValue::parse_limit(value)
                            .map_err(|e| Error::invalid(format!("limit {name}: {e}")))?;
                    })*
                    _ => return Err(Error::invalid(format!(
                        "there is no limit called `{name}`; `chatlink limits` lists them"
                    ))),
                }
                Ok(())
            }
        }
    };
}

limits! {
    /// How long a client may take to send a request's headers, from its first byte.
    header_read_timeout: Duration = Duration::from_secs(10),
    /// How long a connection may stay open with no request (before the first one, and between
    /// keep-alive requests).
    idle_timeout: Duration = Duration::from_secs(60),
    /// How long a client may take to send a whole request body.
    body_read_timeout: Duration = Duration::from_secs(20),
    /// How long a response (a stream included) may wait for a client that reads nothing.
    send_timeout: Duration = Duration::from_secs(60),
    /// Bytes of request line and headers (at least 8192: less is raised to it).
    max_header_bytes: usize = 64 * 1024,
    /// Open connections in all; past it new ones get 503 and are closed.
    max_connections: usize = 10_000,
    /// Open connections per client address (an IPv6 /64); shop Wi-Fi and carrier NAT put many
    /// visitors behind one address, each browser opening about six.
    connections_per_client: usize = 256,
    /// Proxies and tunnels trusted to forward visitors (comma-separated IPs or CIDRs): only their
    /// X-Forwarded-For is believed, and they are exempt from connections_per_client.
    trusted_proxies: AddrList = AddrList::default(),
    /// Characters of a chat message (1 to this many).
    message_chars: usize = 4000,
    /// Bytes of a `POST /chat/<t>/` or widget message body.
    chat_body: usize = 16 * 1024,
    /// Bytes of a `POST /hook/<t>` body; the agent reads only its first message_chars.
    hook_body: usize = 1024 * 1024,
    /// Messages per minute one link (or one widget app) accepts.
    link_per_minute: u32 = 120,
    /// Messages one link (or widget app) accepts at once before link_per_minute applies.
    link_burst: u32 = 30,
    /// Messages per minute one conversation (or one widget end user) may send.
    conversation_per_minute: u32 = 20,
    /// Messages one conversation (or end user) may send at once.
    conversation_burst: u32 = 6,
    /// Messages per minute one client address may send across all links.
    client_per_minute: u32 = 300,
    /// Messages one client address may send at once.
    client_burst: u32 = 60,
    /// Reads (page, history, streams) per minute per client address.
    reads_per_minute: u32 = 1200,
    /// Reads one client address may make at once.
    reads_burst: u32 = 300,
    /// Tokens per minute one widget app is given (right secrets only: wrong ones never spend
    /// it).
    token_per_minute: u32 = 120,
    /// Tokens one widget app is given at once.
    token_burst: u32 = 60,
    /// Token requests per minute per client address, right or wrong.
    token_client_per_minute: u32 = 600,
    /// Token requests one client address may make at once.
    token_client_burst: u32 = 120,
    /// Wrong appSecrets per minute per client address; past it that address gets 429 for every
    /// token request until it may try again.
    bad_secret_per_minute: u32 = 10,
    /// Wrong appSecrets one client address may send at once.
    bad_secret_burst: u32 = 20,
    /// Open SSE streams across the server.
    max_streams: usize = 20_000,
    /// Open conversation streams per link or widget app.
    feeds_per_source: usize = 500,
    /// Open turn streams per link or widget app (a busy counter QR code has many visitors
    /// waiting on replies at once).
    turn_streams_per_source: usize = 2000,
    /// Messages a history request returns (the latest).
    history_messages: usize = 200,
    /// Earlier messages handed to the agent as context.
    context_messages: usize = 20,
    /// Longest a turn may run; then it ends, keeping what was written.
    turn_deadline: Duration = Duration::from_secs(120),
    /// Characters of a reply; a longer one is cut and marked.
    reply_chars: usize = 8000,
    /// How long a provider may stay silent before the turn fails.
    provider_idle_timeout: Duration = Duration::from_secs(60),
    /// `max_tokens` of a provider request, for agents that set none.
    default_max_tokens: u32 = 1024,
    /// Provider requests per agent per UTC day, for agents that set none; past it visitors get
    /// built-in answers until the next day.
    default_daily_requests: u32 = 2000,
    /// Provider tokens (as its `usage` reports; characters when it reports none) per agent per
    /// UTC day, for agents that set none.
    default_daily_tokens: u64 = 2_000_000,
}

impl Limits {
    /// The text form of the limit called `name` (empty for no such limit).
    pub fn table_value(&self, name: &str) -> String {
        self.table()
            .into_iter()
            .find(|r| r.name == name)
            .map(|r| r.value)
            .unwrap_or_default()
    }

    /// The limits with every rate turned off (load tests, `--no-rate-limits`).
    pub fn without_rates(mut self) -> Limits {
        for rate in [
            &mut self.link_per_minute,
            &mut self.link_burst,
            &mut self.conversation_per_minute,
            &mut self.conversation_burst,
            &mut self.client_per_minute,
            &mut self.client_burst,
            &mut self.reads_per_minute,
            &mut self.reads_burst,
            &mut self.token_per_minute,
            &mut self.token_burst,
            &mut self.token_client_per_minute,
            &mut self.token_client_burst,
            &mut self.bad_secret_per_minute,
            &mut self.bad_secret_burst,
        ] {
            *rate = u32::MAX;
        }
        self
    }
}

/// A client address as the limits count it: IPv4 as is (an IPv4 in IPv6 too), IPv6 by its /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    ClientKey(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

pub(super) struct RateLimits {
    link: DefaultKeyedRateLimiter<Switch>,
    conversation: DefaultKeyedRateLimiter<String>,
    client: DefaultKeyedRateLimiter<ClientKey>,
    reads: DefaultKeyedRateLimiter<ClientKey>,
    token_app: DefaultKeyedRateLimiter<String>,
    token_client: DefaultKeyedRateLimiter<ClientKey>,
    bad_secret: DefaultKeyedRateLimiter<ClientKey>,
    /// Addresses past their wrong-secret budget, until when: refused before any secret is
    /// checked, so guessing is as slow as `bad_secret_per_minute` says.
    guessing: std::sync::Mutex<std::collections::HashMap<ClientKey, std::time::Instant>>,
}

fn wait(n: governor::NotUntil<governor::clock::QuantaInstant>) -> Error {
    Error::RateLimited {
        retry_after: n
            .wait_time_from(DefaultClock::default().now())
            .max(Duration::from_secs(1)),
    }
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl RateLimits {
    pub fn new(l: &Limits) -> RateLimits {
        RateLimits {
            link: RateLimiter::keyed(quota(l.link_per_minute, l.link_burst)),
            conversation: RateLimiter::keyed(quota(
                l.conversation_per_minute,
                l.conversation_burst,
            )),
            client: RateLimiter::keyed(quota(l.client_per_minute, l.client_burst)),
            reads: RateLimiter::keyed(quota(l.reads_per_minute, l.reads_burst)),
            token_app: RateLimiter::keyed(quota(l.token_per_minute, l.token_burst)),
            token_client: RateLimiter::keyed(quota(
                l.token_client_per_minute,
                l.token_client_burst,
            )),
            bad_secret: RateLimiter::keyed(quota(l.bad_secret_per_minute, l.bad_secret_burst)),
            guessing: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Counts one message from `client` through `channel` (a link or a widget app) in
    /// `conversation` (a conversation id, or a widget end user; `None` starts a new one), or
    /// says how long to wait. The tight limits are per conversation and per link: many
    /// visitors may share one address.
    pub fn check(
        &self,
        channel: &Switch,
        conversation: Option<&str>,
        client: IpAddr,
    ) -> Result<()> {
        self.client
            .check_key(&ClientKey::of(client))
            .map_err(wait)?;
        if let Some(c) = conversation {
            self.conversation.check_key(&c.to_owned()).map_err(wait)?;
        }
        self.link.check_key(channel).map_err(wait)?;
        Ok(())
    }

    /// Counts one read (a page, a history, a stream) from `client`.
    pub fn check_read(&self, client: IpAddr) -> Result<()> {
        self.reads.check_key(&ClientKey::of(client)).map_err(wait)
    }

    /// Counts one token request from `client`, before its secret is checked.
    pub fn check_token_client(&self, client: IpAddr) -> Result<()> {
        self.token_client
            .check_key(&ClientKey::of(client))
            .map_err(wait)
    }

    /// A wrong secret from `client`: `rate_limited` once that address has sent too many, and
    /// [`RateLimits::check_guessing`] refuses it until it may try again. The app's own budget is
    /// untouched, so guessing never locks the shop's backend out.
    pub fn bad_secret(&self, client: IpAddr) -> Result<()> {
        let key = ClientKey::of(client);
        self.bad_secret.check_key(&key).map_err(|n| {
            let e = wait(n);
            if let (Error::RateLimited { retry_after }, Ok(mut g)) = (&e, self.guessing.lock()) {
                g.insert(key, std::time::Instant::now() + *retry_after);
            }
            e
        })
    }

    /// `rate_limited` while `client` is past its wrong-secret budget, whatever secret it sends.
    pub fn check_guessing(&self, client: IpAddr) -> Result<()> {
        let key = ClientKey::of(client);
        let until = self.guessing.lock().ok().and_then(|g| g.get(&key).copied());
        match until.map(|u| u.saturating_duration_since(std::time::Instant::now())) {
            Some(left) if !left.is_zero() => Err(Error::RateLimited {
                retry_after: left.max(Duration::from_secs(1)),
            }),
            _ => Ok(()),
        }
    }

    /// Counts one token given to `app_id` (its secret was right).
    pub fn check_token_app(&self, app_id: &str) -> Result<()> {
        self.token_app.check_key(&app_id.to_owned()).map_err(wait)
    }

    /// Drops the state of keys that have been quiet long enough to be back at full burst.
    pub fn forget_idle(&self) {
        self.link.retain_recent();
        self.conversation.retain_recent();
        self.client.retain_recent();
        self.reads.retain_recent();
        self.token_app.retain_recent();
        self.token_client.retain_recent();
        self.bad_secret.retain_recent();
        if let Ok(mut g) = self.guessing.lock() {
            let now = std::time::Instant::now();
            g.retain(|_, until| *until > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(r: Result<()>) -> bool {
        match r {
            Err(Error::RateLimited { retry_after }) => retry_after >= Duration::from_secs(1),
            _ => false,
        }
    }

    #[test]
    fn a_client_over_its_burst_waits_and_other_clients_do_not() {
        let limits = Limits {
            client_burst: 2,
            client_per_minute: 2,
            ..Limits::default()
        };
        let rates = RateLimits::new(&limits);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        rates.check(&Switch::Link(1), None, a).expect("1");
        rates.check(&Switch::Link(1), None, a).expect("2");
        assert!(limited(rates.check(&Switch::Link(1), None, a)));
        rates
            .check(&Switch::Link(1), None, b)
            .expect("another client");
    }

    #[test]
    fn a_conversation_over_its_burst_waits_and_its_neighbours_do_not() {
        let limits = Limits {
            conversation_burst: 1,
            conversation_per_minute: 1,
            ..Limits::default()
        };
        let rates = RateLimits::new(&limits);
        let a: IpAddr = [10, 0, 0, 1].into();
        rates.check(&Switch::Link(1), Some("c1"), a).expect("1");
        assert!(limited(rates.check(&Switch::Link(1), Some("c1"), a)));
        rates
            .check(&Switch::Link(1), Some("c2"), a)
            .expect("same address, other conversation");
    }

    #[test]
    fn a_link_over_its_burst_is_limited_for_everyone() {
        let limits = Limits {
            link_burst: 1,
            link_per_minute: 1,
            ..Limits::default()
        };
        let rates = RateLimits::new(&limits);
        rates
            .check(&Switch::Link(7), None, [10, 0, 0, 1].into())
            .expect("first");
        assert!(limited(rates.check(
            &Switch::Link(7),
            None,
            [10, 0, 0, 2].into()
        )));
        rates
            .check(&Switch::App("app_x".into()), None, [10, 0, 0, 3].into())
            .expect("another link");
    }

    #[test]
    fn wrong_secrets_spend_the_address_budget_not_the_app_budget() {
        let limits = Limits {
            token_burst: 1,
            token_per_minute: 1,
            bad_secret_burst: 2,
            bad_secret_per_minute: 2,
            ..Limits::default()
        };
        let rates = RateLimits::new(&limits);
        let attacker: IpAddr = [10, 0, 0, 9].into();
        rates.bad_secret(attacker).expect("1");
        rates.bad_secret(attacker).expect("2");
        assert!(limited(rates.bad_secret(attacker)));
        rates
            .bad_secret([10, 0, 0, 8].into())
            .expect("another address");
        assert!(
            limited(rates.check_guessing(attacker)),
            "refused before any secret is checked"
        );
        rates
            .check_guessing([10, 0, 0, 8].into())
            .expect("the other address may try");
        rates
            .check_token_app("app_1")
            .expect("the right secret still gets its token");
        assert!(limited(rates.check_token_app("app_1")));
    }

    /// Only a trusted proxy's header is believed, and of it only what the last untrusted hop
    /// said: anything a visitor puts in front is ignored.
    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_rightmost_untrusted_hop() {
        let mut trusted = AddrList::default();
        assert!(trusted.0.is_empty());
        trusted = AddrList::parse_limit("127.0.0.1, 10.0.0.0/8").expect("list");
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let proxy = ip("127.0.0.1");
        let behind =
            |peer: IpAddr, headers: &[&str]| client_behind(peer, headers.iter().copied(), &trusted);
        assert_eq!(behind(proxy, &["203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(
            behind(proxy, &["6.6.6.6, 203.0.113.7, 10.1.1.1"]),
            ip("203.0.113.7"),
            "a forged hop on the left and an inner proxy on the right"
        );
        assert_eq!(
            behind(proxy, &["6.6.6.6", "203.0.113.7"]),
            ip("203.0.113.7"),
            "two headers"
        );
        assert_eq!(
            behind(ip("::ffff:127.0.0.1"), &["203.0.113.7"]),
            ip("203.0.113.7")
        );
        assert_eq!(behind(proxy, &["[2001:db8::1]:4711"]), ip("2001:db8::1"));
        assert_eq!(behind(proxy, &[]), proxy, "no header: the proxy itself");
        assert_eq!(
            behind(proxy, &["10.2.2.2"]),
            proxy,
            "only proxies: the proxy"
        );
        assert_eq!(
            behind(proxy, &["203.0.113.7, garbage"]),
            proxy,
            "garbled: trust nothing"
        );
        let stranger = ip("198.51.100.9");
        assert_eq!(
            behind(stranger, &["203.0.113.7"]),
            stranger,
            "not a proxy: header ignored"
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("v6");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("v6");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("mapped");
        assert_eq!(ClientKey::of(mapped), ClientKey::of([192, 0, 2, 7].into()));
    }

    /// docs/limits.md is the table owners read: every limit is in it, with its default.
    #[test]
    fn limits_doc_lists_every_limit() {
        let doc = include_str!("../../../../docs/limits.md");
        for row in Limits::default().table() {
            let line = format!("| `{}` | {} |", row.name, row.default);
            assert!(doc.contains(&line), "docs/limits.md lacks {line}");
        }
    }

    #[test]
    fn limits_are_named_settings_and_bad_values_change_nothing() {
        let mut l = Limits::default();
        l.set("header_read_timeout", "3s").expect("duration");
        assert_eq!(l.header_read_timeout, Duration::from_secs(3));
        l.set("connections_per_client", "1_000").expect("count");
        assert_eq!(l.connections_per_client, 1000);
        l.set("trusted_proxies", "127.0.0.1, ::1, 10.1.2.3/8")
            .expect("list");
        assert_eq!(l.trusted_proxies.0.len(), 3);
        assert_eq!(l.table_value("trusted_proxies"), "127.0.0.1,::1,10.0.0.0/8");
        for (name, value) in [
            ("header_read_timeout", "soon"),
            ("header_read_timeout", "1ms"),
            ("max_connections", "0"),
            ("max_connections", "-3"),
            ("trusted_proxies", "example.com"),
            ("trusted_proxies", "10.0.0.0/33"),
            ("no_such_limit", "1"),
        ] {
            let before = format!("{:?}", l.table());
            assert_eq!(l.set(name, value).expect_err(name).code(), "invalid_input");
            assert_eq!(
                before,
                format!("{:?}", l.table()),
                "{name}={value} changed nothing"
            );
        }
        let table = l.table();
        let row = table
            .iter()
            .find(|r| r.name == "header_read_timeout")
            .expect("row");
        assert_eq!((row.value.as_str(), row.default.as_str()), ("3s", "10s"));
        assert!(row.about.starts_with("How long a client"), "{}", row.about);
        assert!(table.iter().all(|r| !r.about.is_empty()));
    }
}
