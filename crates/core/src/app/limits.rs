//! Bounds on visitor input: sizes, rates per link or widget app and per client address, open
//! streams, and the rate of the widget token endpoint.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Error, Result};
use crate::hub::Switch;

/// Every bound on what visitors can send. The defaults suit one shop; the bench raises the rates.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A chat message: 1 to this many characters.
    pub message_chars: usize,
    /// Bytes of a `POST /chat/<t>/` body.
    pub chat_body: usize,
    /// Bytes of a `POST /hook/<t>` body.
    pub hook_body: usize,
    /// Messages per minute one link (or one widget app) accepts, with this burst.
    pub link_per_minute: u32,
    pub link_burst: u32,
    /// Messages per minute one client address may send, with this burst.
    pub client_per_minute: u32,
    pub client_burst: u32,
    /// Token requests per minute, per widget app and per client address, with this burst. A
    /// customer's backend asks for one token per end user every few minutes.
    pub token_per_minute: u32,
    pub token_burst: u32,
    /// Open SSE streams across the server.
    pub max_streams: usize,
    /// Open conversation streams (they stay open while a page is) per link or widget app, so one
    /// link's holder cannot take every stream of the server.
    pub feeds_per_source: usize,
    /// Messages a history request returns (the latest ones).
    pub history_messages: usize,
    /// Earlier messages handed to the agent as context.
    pub context_messages: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            message_chars: 4000,
            chat_body: 16 * 1024,
            hook_body: 1024 * 1024,
            link_per_minute: 120,
            link_burst: 30,
            client_per_minute: 30,
            client_burst: 10,
            token_per_minute: 120,
            token_burst: 60,
            max_streams: 20_000,
            feeds_per_source: 500,
            history_messages: 200,
            context_messages: 20,
        }
    }
}

pub(super) struct RateLimits {
    link: DefaultKeyedRateLimiter<Switch>,
    client: DefaultKeyedRateLimiter<IpAddr>,
    token_app: DefaultKeyedRateLimiter<String>,
    token_client: DefaultKeyedRateLimiter<IpAddr>,
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
    pub fn new(limits: &Limits) -> RateLimits {
        RateLimits {
            link: RateLimiter::keyed(quota(limits.link_per_minute, limits.link_burst)),
            client: RateLimiter::keyed(quota(limits.client_per_minute, limits.client_burst)),
            token_app: RateLimiter::keyed(quota(limits.token_per_minute, limits.token_burst)),
            token_client: RateLimiter::keyed(quota(limits.token_per_minute, limits.token_burst)),
        }
    }

    /// Counts one message from `client` through `channel` (a link or a widget app), or says how
    /// long to wait.
    pub fn check(&self, channel: &Switch, client: IpAddr) -> Result<()> {
        self.client.check_key(&client).map_err(wait)?;
        self.link.check_key(channel).map_err(wait)?;
        Ok(())
    }

    /// Counts one token request for `app_id` from `client`. Counted before the secret is checked,
    /// so guessing costs the same whether the app exists or not.
    pub fn check_token(&self, app_id: &str, client: IpAddr) -> Result<()> {
        self.token_client.check_key(&client).map_err(wait)?;
        self.token_app.check_key(&app_id.to_owned()).map_err(wait)?;
        Ok(())
    }

    /// Drops the state of keys that have been quiet long enough to be back at full burst.
    pub fn forget_idle(&self) {
        self.link.retain_recent();
        self.client.retain_recent();
        self.token_app.retain_recent();
        self.token_client.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        rates.check(&Switch::Link(1), a).expect("1");
        rates.check(&Switch::Link(1), a).expect("2");
        match rates.check(&Switch::Link(1), a) {
            Err(Error::RateLimited { retry_after }) => {
                assert!(retry_after >= Duration::from_secs(1))
            }
            other => panic!("expected rate_limited, got {other:?}"),
        }
        rates.check(&Switch::Link(1), b).expect("another client");
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
            .check(&Switch::Link(7), [10, 0, 0, 1].into())
            .expect("first");
        assert_eq!(
            rates
                .check(&Switch::Link(7), [10, 0, 0, 2].into())
                .expect_err("link")
                .code(),
            "rate_limited"
        );
        rates
            .check(&Switch::App("app_x".into()), [10, 0, 0, 3].into())
            .expect("another link");
    }

    #[test]
    fn token_requests_are_limited_per_app_and_per_client() {
        let limits = Limits {
            token_burst: 2,
            token_per_minute: 2,
            ..Limits::default()
        };
        let rates = RateLimits::new(&limits);
        let a: IpAddr = [10, 0, 0, 1].into();
        rates.check_token("app_1", a).expect("1");
        rates.check_token("app_2", a).expect("2");
        assert_eq!(
            rates.check_token("app_3", a).expect_err("client").code(),
            "rate_limited"
        );
        rates.check_token("app_1", [10, 0, 0, 2].into()).expect("3");
        assert_eq!(
            rates
                .check_token("app_1", [10, 0, 0, 3].into())
                .expect_err("app")
                .code(),
            "rate_limited"
        );
    }
}
