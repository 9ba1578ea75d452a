//! Counts for the owner's window: the Home screen's numbers, each from an index.

use super::Store;
use crate::error::Result;

/// The Home screen's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverviewRow {
    pub links_live: i64,
    pub links_total: i64,
    pub conversations_since: i64,
    pub open_handoffs: i64,
}

impl Store {
    /// Links (live and all), conversations started at or after `since` (ms), and conversations
    /// whose agent handed over to a person.
    pub fn overview(&self, since: i64, now: i64) -> Result<OverviewRow> {
        self.read(|c| {
            let (links_live, links_total) = c
                .prepare_cached(
                    "SELECT COUNT(*) FILTER (WHERE revoked_at IS NULL
                                              AND (expires_at IS NULL OR expires_at > ?1)),
                            COUNT(*)
                       FROM tokens",
                )?
                .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let conversations_since = c
                .prepare_cached("SELECT COUNT(*) FROM conversations WHERE created_at >= ?1")?
                .query_row([since], |r| r.get(0))?;
            let open_handoffs = c
                .prepare_cached("SELECT COUNT(*) FROM conversations WHERE state = 'handoff'")?
                .query_row([], |r| r.get(0))?;
            Ok(OverviewRow {
                links_live,
                links_total,
                conversations_since,
                open_handoffs,
            })
        })
    }
}
