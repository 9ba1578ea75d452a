//! Widget app rows: which agent an app talks to, its allowed origins, its session lifetime, how
//! often its secret was rotated, and tombstones. The appSecret itself is never stored here.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Store, folders};
use crate::error::{Error, Result};
use crate::model::now_ms;

#[derive(Debug, Clone)]
pub struct NewApp {
    pub id: String,
    pub folder: String,
    pub name: String,
    pub origins: Vec<String>,
    pub token_ttl_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub id: String,
    pub folder: String,
    pub name: String,
    /// Exact origins (`https://shop.example`); empty means any origin.
    pub origins: Vec<String>,
    pub token_ttl_secs: i64,
    /// 1 at creation, +1 per secret rotation.
    pub generation: i64,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str =
    "id, folder, name, origins, token_ttl, generation, created_at, rotated_at, revoked_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AppRow> {
    let origins: String = r.get(3)?;
    Ok(AppRow {
        id: r.get(0)?,
        folder: r.get(1)?,
        name: r.get(2)?,
        origins: origins.lines().map(str::to_owned).collect(),
        token_ttl_secs: r.get(4)?,
        generation: r.get(5)?,
        created_at: r.get(6)?,
        rotated_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

pub fn by_id(conn: &Connection, id: &str) -> Result<Option<AppRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM widget_apps WHERE id = ?1"))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

fn require(conn: &Connection, id: &str) -> Result<AppRow> {
    by_id(conn, id)?.ok_or(Error::NotFound { what: "widget app" })
}

pub(super) fn require_live(conn: &Connection, id: &str) -> Result<AppRow> {
    let app = require(conn, id)?;
    if app.revoked_at.is_some() {
        return Err(Error::Conflict(format!("widget app {id} is revoked")));
    }
    Ok(app)
}

impl Store {
    pub fn insert_app(&self, a: &NewApp) -> Result<AppRow> {
        self.write(|tx| {
            folders::require(tx, &a.folder)?;
            tx.execute(
                "INSERT INTO widget_apps(id, folder, name, origins, token_ttl, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    a.id,
                    a.folder,
                    a.name,
                    a.origins.join("\n"),
                    a.token_ttl_secs,
                    now_ms()
                ],
            )?;
            require(tx, &a.id)
        })
    }

    /// Undoes [`Store::insert_app`] when its secret could not be stored: nothing else refers to
    /// an app that never had a secret.
    pub fn delete_new_app(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM widget_apps WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    pub fn app(&self, id: &str) -> Result<Option<AppRow>> {
        self.read(|c| by_id(c, id))
    }

    pub fn apps(&self) -> Result<Vec<AppRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM widget_apps ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Counts a rotation: the app's JWT key changes with its generation.
    pub fn bump_app_generation(&self, id: &str) -> Result<AppRow> {
        self.write(|tx| {
            require_live(tx, id)?;
            tx.execute(
                "UPDATE widget_apps SET generation = generation + 1, rotated_at = ?2 WHERE id = ?1",
                params![id, now_ms()],
            )?;
            require(tx, id)
        })
    }

    pub fn set_app_origins(&self, id: &str, origins: &[String]) -> Result<AppRow> {
        self.write(|tx| {
            require_live(tx, id)?;
            tx.execute(
                "UPDATE widget_apps SET origins = ?2 WHERE id = ?1",
                params![id, origins.join("\n")],
            )?;
            require(tx, id)
        })
    }

    /// Revokes an app; revoking a revoked app returns it unchanged.
    pub fn revoke_app(&self, id: &str) -> Result<AppRow> {
        self.write(|tx| {
            tx.execute(
                "UPDATE widget_apps SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_ms()],
            )?;
            require(tx, id)
        })
    }

    /// Apps revoked or rotated at or after `since_ms`: their open streams must end, including
    /// when another process (the CLI) made the change.
    pub fn apps_changed_since(&self, since_ms: i64) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM widget_apps WHERE revoked_at >= ?1 OR rotated_at >= ?1",
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

    fn new_app(id: &str) -> NewApp {
        NewApp {
            id: id.into(),
            folder: "acme".into(),
            name: "Shop".into(),
            origins: vec!["https://a.example".into(), "http://localhost:3000".into()],
            token_ttl_secs: 900,
        }
    }

    #[test]
    fn apps_round_trip_rotate_and_revoke_with_tombstones() {
        let (_d, s) = temp_store();
        s.create_folder("acme", "Acme", "Hi", "").expect("folder");
        let before = now_ms();
        let a = s.insert_app(&new_app("app_1")).expect("insert");
        assert_eq!(a.origins.len(), 2);
        assert_eq!(a.generation, 1);
        assert!(s.insert_app(&new_app("app_1")).is_err(), "ids are unique");
        assert_eq!(
            s.insert_app(&NewApp {
                folder: "nope".into(),
                ..new_app("app_2")
            })
            .expect_err("folder")
            .code(),
            "not_found"
        );
        assert_eq!(
            s.bump_app_generation("app_1").expect("rotate").generation,
            2
        );
        assert_eq!(s.apps_changed_since(before).expect("changed"), ["app_1"]);
        assert!(
            s.set_app_origins("app_1", &[])
                .expect("any")
                .origins
                .is_empty()
        );
        let revoked = s.revoke_app("app_1").expect("revoke");
        assert!(revoked.revoked_at.is_some());
        assert_eq!(s.revoke_app("app_1").expect("again"), revoked);
        assert_eq!(
            s.bump_app_generation("app_1").expect_err("revoked").code(),
            "conflict"
        );
        assert_eq!(s.apps().expect("list").len(), 1, "kept as a tombstone");
        assert!(s.app("app_9").expect("lookup").is_none());
    }
}
