//! The only place that touches SQLite: connection setup, migrations, and one file per table group.
//!
//! One writer connection behind a mutex (SQLite allows one writer at a time anyway, and a single
//! writer never sees `SQLITE_BUSY` from itself) plus a small pool of reader connections, which WAL
//! lets run alongside the writer. Every call is synchronous; `App` runs them on tokio's blocking
//! pool. `synchronous = FULL`: a 202 promises the visitor's message is on disk, and a power cut
//! must not take that back.

mod apps;
mod chat;
mod embeddings;
mod folders;
mod group;
mod inbox;
mod looks;
mod schema;
mod settings;
mod stats;
mod tokens;
mod unanswered;
mod values;

pub use apps::{AppRow, NewApp};
pub use chat::{ConversationRow, NewTurn, RecoveredTurn, Running, TurnRow, TurnStart};
pub use embeddings::TextHash;
pub use folders::{Ceilings, EmbeddingsRow, EngineRow, FolderRow, FolderUpdate, RouteRule};
pub use inbox::{DayRow, InboxQuery, InboxRow};
pub use stats::OverviewRow;
pub use tokens::{NewToken, TokenRow};
pub use unanswered::{UnansweredNote, UnansweredRow};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};

use crate::error::{Error, Result};

const READERS: usize = 4;

pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Writes waiting for the next group commit (see `group`).
    queue: Mutex<Vec<group::Job>>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let mut writer = Connection::open(path)?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Internal(format!(
                "SQLite refused WAL mode (got {mode})"
            )));
        }
        configure(&writer)?;
        schema::migrate(&mut writer)?;
        Ok(Store {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            queue: Mutex::new(Vec::new()),
            readers: Mutex::new(Vec::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction; nothing of it is kept unless it returns Ok.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("store writer poisoned".into()))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on a reader connection (a consistent snapshot for the length of one statement).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )?;
                configure(&c)?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < READERS
        {
            pool.push(conn);
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("chatlink.db")).expect("open store");
        (dir, store)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::temp_store;
    use super::*;

    #[test]
    fn opens_in_wal_with_foreign_keys_and_reopens() {
        let (dir, store) = temp_store();
        let (mode, fk): (String, i64) = store
            .read(|c| {
                Ok((
                    c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                    c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
                ))
            })
            .expect("pragmas");
        assert_eq!(mode, "wal");
        assert_eq!(fk, 1);
        drop(store);
        // Running the migrations again on an up-to-date file is a no-op, not an error.
        Store::open(&dir.path().join("chatlink.db")).expect("reopen");
    }

    #[test]
    fn a_failed_write_keeps_nothing() {
        let (_dir, store) = temp_store();
        let err = store
            .write(|tx| {
                settings::set(tx, "k", "v")?;
                Err::<(), _>(Error::invalid("no"))
            })
            .expect_err("must fail");
        assert_eq!(err.code(), "invalid_input");
        assert_eq!(store.read(|c| settings::get(c, "k")).expect("read"), None);
    }
}
