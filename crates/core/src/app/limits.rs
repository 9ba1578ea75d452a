//! Bounds on visitor input: sizes, rates per link and per client address, open streams.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Error, Result};

/// Every bound on what visitors can send. The defaults suit one shop; the bench raises the rates.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A chat message: 1 to this many characters.
    pub message_chars: usize,
    /// Bytes of a `POST /chat/<t>/` body.
    pub chat_body: usize,
    /// Bytes of a `POST /hook/<t>` body.
    pub hook_body: usize,
    /// Messages per minute one link accepts, with this burst.
    pub link_per_minute: u32,
    pub link_burst: u32,
    /// Messages per minute one client address may send, with this burst.
    pub client_per_minute: u32,
    pub client_burst: u32,
    /// Open SSE streams across the server.
    pub max_streams: usize,
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
            max_streams: 20_000,
            history_messages: 200,
            context_messages: 20,
        }
    }
}

pub(super) struct RateLimits {
    link: DefaultKeyedRateLimiter<i64>,
    client: DefaultKeyedRateLimiter<IpAddr>,
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
        }
    }

    /// Counts one message from `client` on link `token_id`, or says how long to wait.
    pub fn check(&self, token_id: i64, client: IpAddr) -> Result<()> {
        let wait = |n: governor::NotUntil<_>| Error::RateLimited {
            retry_after: n
                .wait_time_from(DefaultClock::default().now())
                .max(Duration::from_secs(1)),
        };
        self.client.check_key(&client).map_err(wait)?;
        self.link.check_key(&token_id).map_err(wait)?;
        Ok(())
    }

    /// Drops the state of keys that have been quiet long enough to be back at full burst.
    pub fn forget_idle(&self) {
        self.link.retain_recent();
        self.client.retain_recent();
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
        rates.check(1, a).expect("1");
        rates.check(1, a).expect("2");
        match rates.check(1, a) {
            Err(Error::RateLimited { retry_after }) => {
                assert!(retry_after >= Duration::from_secs(1))
            }
            other => panic!("expected rate_limited, got {other:?}"),
        }
        rates.check(1, b).expect("another client");
    }

    #[test]
    fn a_link_over_its_burst_is_limited_for_everyone() {
        let limits = Limits {
            link_burst: 1,
            link_per_minute: 1,
            ..Limits::default()
        };
        let rates = RateLimits::new(&limits);
        rates.check(7, [10, 0, 0, 1].into()).expect("first");
        assert_eq!(
            rates
                .check(7, [10, 0, 0, 2].into())
                .expect_err("link")
                .code(),
            "rate_limited"
        );
        rates.check(8, [10, 0, 0, 3].into()).expect("another link");
    }
}
