//! Route token rows: the hash to look a token up, the sealed token to show it again, tombstones.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Store, folders};
use crate::error::{Error, Result};
use crate::jid::Jid;
use crate::model::{TokenKind, now_ms};

#[derive(Debug, Clone)]
pub struct NewToken {
    pub folder: String,
    pub kind: TokenKind,
    pub jid: Jid,
    pub suffix: Option<String>,
    pub source: Option<String>,
    pub label: Option<String>,
    pub hash: [u8; 32],
    pub sealed: Vec<u8>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub folder: String,
    pub kind: TokenKind,
    pub jid: Jid,
    pub suffix: Option<String>,
    pub source: Option<String>,
    pub label: Option<String>,
    pub hash: Vec<u8>,
    pub sealed: Vec<u8>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Visitor messages in the conversations this link started, kept as a counter (see
    /// `Store::begin_turn`), so listing links never counts messages.
    pub visitor_messages: i64,
    /// Paused by the owner: visitors get "back soon" until it is resumed.
    pub paused_at: Option<i64>,
    /// Websites allowed to embed this link's widget (`https://shop.example`); empty: none.
    pub origins: Vec<String>,
}

const COLUMNS: &str = "id, folder, kind, jid, suffix, source, label, hash, sealed, created_at, \
                       expires_at, revoked_at, last_used_at, visitor_messages, paused_at, origins";

fn from_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        folder: r.get(1)?,
        kind: r.get(2)?,
        jid: r.get(3)?,
        suffix: r.get(4)?,
        source: r.get(5)?,
        label: r.get(6)?,
        hash: r.get(7)?,
        sealed: r.get(8)?,
        created_at: r.get(9)?,
        expires_at: r.get(10)?,
        revoked_at: r.get(11)?,
        last_used_at: r.get(12)?,
        visitor_messages: r.get(13)?,
        paused_at: r.get(14)?,
        origins: r.get::<_, String>(15)?.lines().map(str::to_owned).collect(),
    })
}

pub fn by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<TokenRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1"))?;
    Ok(stmt.query_row([hash], from_row).optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<TokenRow> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"))?;
    stmt.query_row([id], from_row)
        .optional()?
        .ok_or(Error::NotFound { what: "link" })
}

fn insert(conn: &Connection, t: &NewToken) -> Result<TokenRow> {
    folders::require(conn, &t.folder)?;
    conn.execute(
        "INSERT INTO tokens(folder, kind, jid, suffix, source, label, hash, sealed, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            t.folder,
            t.kind,
            t.jid,
            t.suffix,
            t.source,
            t.label,
            &t.hash[..],
            t.sealed,
            now_ms(),
            t.expires_at
        ],
    )?;
    by_id(conn, conn.last_insert_rowid())
}

impl Store {
    pub fn insert_token(&self, t: &NewToken) -> Result<TokenRow> {
        self.write(|tx| insert(tx, t))
    }

    /// Revokes `id` and issues `replacement` on the same JID in one transaction.
    pub fn reissue_token(&self, id: i64, replacement: &NewToken) -> Result<(TokenRow, TokenRow)> {
        self.write(|tx| {
            let now = now_ms();
            tx.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )?;
            let old = by_id(tx, id)?;
            let new = insert(tx, replacement)?;
            Ok((old, new))
        })
    }

    pub fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        self.read(|c| by_hash(c, hash))
    }

    pub fn token(&self, id: i64) -> Result<TokenRow> {
        self.read(|c| by_id(c, id))
    }

    pub fn tokens(&self, folder: Option<&str>) -> Result<Vec<TokenRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tokens WHERE ?1 IS NULL OR folder = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([folder], from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    pub fn tokens_of_jid(&self, jid: &Jid) -> Result<Vec<TokenRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tokens WHERE jid = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([jid], from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Revokes every live token of `jid`; returns the ids it revoked (empty when none was live).
    pub fn revoke_jid(&self, jid: &Jid) -> Result<Vec<i64>> {
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "UPDATE tokens SET revoked_at = ?2 WHERE jid = ?1 AND revoked_at IS NULL RETURNING id",
            )?;
            let ids = stmt.query_map(params![jid, now_ms()], |r| r.get(0))?;
            Ok(ids.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Revokes one token; revoking a revoked token is a no-op that returns it unchanged.
    pub fn revoke_token(&self, id: i64) -> Result<TokenRow> {
        self.write(|tx| {
            tx.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_ms()],
            )?;
            by_id(tx, id)
        })
    }

    /// Pauses (`true`) or resumes a live token; a revoked one is refused.
    pub fn set_token_paused(&self, id: i64, paused: bool) -> Result<TokenRow> {
        self.write(|tx| {
            let row = by_id(tx, id)?;
            if row.revoked_at.is_some() {
                return Err(crate::error::Error::Conflict(
                    "this link is revoked; issue a new one instead".into(),
                ));
            }
            tx.execute(
                "UPDATE tokens SET paused_at = CASE WHEN ?2 THEN coalesce(paused_at, ?3) END WHERE id = ?1",
                params![id, paused, now_ms()],
            )?;
            by_id(tx, id)
        })
    }

    /// Ids of tokens revoked or paused at or after `since_ms`: how `serve` learns of a
    /// revocation made by another process (the CLI) and closes that link's streams.
    pub fn revoked_since(&self, since_ms: i64) -> Result<Vec<i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM tokens WHERE revoked_at >= ?1 OR paused_at >= ?1",
            )?;
            let ids = stmt.query_map([since_ms], |r| r.get(0))?;
            Ok(ids.collect::<rusqlite::Result<_>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;

    fn new(jid: &str, n: u8) -> NewToken {
        NewToken {
            folder: "acme".into(),
            kind: TokenKind::Web,
            jid: jid.parse().expect("jid"),
            suffix: None,
            source: None,
            label: None,
            hash: [n; 32],
            sealed: vec![n],
            expires_at: None,
        }
    }

    #[test]
    fn revoke_by_jid_and_id_keeps_tombstones() {
        let (_d, s) = temp_store();
        s.create_folder("acme", "Acme", "", "").expect("folder");
        let a = s.insert_token(&new("web:acme", 1)).expect("a");
        let b = s.insert_token(&new("web:acme", 2)).expect("b");
        let c = s.insert_token(&new("web:acme/x", 3)).expect("c");
        assert_eq!(
            s.insert_token(&new("web:acme", 3))
                .expect_err("dup hash")
                .code(),
            "storage"
        );

        let since = now_ms();
        let acme: Jid = "web:acme".parse().expect("jid");
        assert_eq!(s.revoke_jid(&acme).expect("revoke"), vec![a.id, b.id]);
        assert!(s.revoke_jid(&acme).expect("again").is_empty());
        assert_eq!(s.revoked_since(since).expect("since"), vec![a.id, b.id]);
        assert!(
            s.token_by_hash(&[1; 32])
                .expect("lookup")
                .expect("tombstone")
                .revoked_at
                .is_some()
        );
        assert!(s.token(c.id).expect("c").revoked_at.is_none());

        let (old, fresh) = s
            .reissue_token(c.id, &new("web:acme/x", 4))
            .expect("reissue");
        assert!(old.revoked_at.is_some());
        assert_eq!(fresh.jid.to_string(), "web:acme/x");
        assert_eq!(s.tokens(Some("acme")).expect("list").len(), 4);
        assert_eq!(s.token(999).expect_err("missing").code(), "not_found");
    }
}
