//! Counts for the owner's window: messages per link, and the Home screen's numbers.

use std::collections::HashMap;

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
    /// Visitor messages per link id, for every link with at least one (one pass, so a table of
    /// hundreds of links costs one query, not one each).
    pub fn visitor_messages_by_token(&self) -> Result<HashMap<i64, i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT c.token_id, COUNT(*) FROM conversations c
                   JOIN messages m ON m.conversation_id = c.id AND m.role = 'user'
                  WHERE c.token_id IS NOT NULL
                  GROUP BY c.token_id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Visitor messages through one link.
    pub fn visitor_messages_of_token(&self, token_id: i64) -> Result<i64> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT COUNT(*) FROM conversations c
                   JOIN messages m ON m.conversation_id = c.id AND m.role = 'user'
                  WHERE c.token_id = ?1",
            )?
            .query_row([token_id], |r| r.get(0))?)
        })
    }

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
