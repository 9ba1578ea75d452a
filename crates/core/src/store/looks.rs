//! The shop's look: an agent's and a widget app's `Look` (JSON in a column of their rows), the
//! logos they name, and the websites a chat link may be embedded on.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, apps, folders, tokens};
use crate::brand::{ImageKind, Logo, Look};
use crate::error::{Error, Result};
use crate::model::now_ms;

fn parse(json: &str) -> Look {
    // Written only by `set_*_look` from a checked `Look`; a row edited by hand into something
    // else shows the default look rather than breaking the agent's page.
    serde_json::from_str(json).unwrap_or_default()
}

fn json(look: &Look) -> Result<String> {
    serde_json::to_string(look).map_err(|e| Error::Internal(format!("a look as JSON: {e}")))
}

pub fn folder_look(conn: &Connection, slug: &str) -> Result<Look> {
    let row: Option<String> = conn
        .prepare_cached("SELECT look FROM folders WHERE slug = ?1")?
        .query_row([slug], |r| r.get(0))
        .optional()?;
    Ok(parse(&row.ok_or(Error::NotFound { what: "agent" })?))
}

pub fn app_look(conn: &Connection, id: &str) -> Result<Look> {
    let row: Option<String> = conn
        .prepare_cached("SELECT look FROM widget_apps WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(parse(&row.ok_or(Error::NotFound { what: "widget app" })?))
}

/// Deletes the logos no agent or app names any more: a replaced logo does not linger.
fn drop_unused_logos(conn: &Connection) -> Result<()> {
    conn.execute(
        "DELETE FROM logos WHERE id NOT IN (
             SELECT json_extract(look, '$.logo') FROM folders
              WHERE json_extract(look, '$.logo') IS NOT NULL
             UNION
             SELECT json_extract(look, '$.logo') FROM widget_apps
              WHERE json_extract(look, '$.logo') IS NOT NULL)",
        [],
    )?;
    Ok(())
}

fn require_logo(conn: &Connection, look: &Look) -> Result<()> {
    if let Some(id) = &look.logo {
        let found: Option<i64> = conn
            .query_row("SELECT 1 FROM logos WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        found.ok_or(Error::NotFound { what: "logo" })?;
    }
    Ok(())
}

impl Store {
    pub fn folder_look(&self, slug: &str) -> Result<Look> {
        self.read(|c| folder_look(c, slug))
    }

    pub fn app_look(&self, id: &str) -> Result<Look> {
        self.read(|c| app_look(c, id))
    }

    /// Replaces an agent's look; its logo must already be stored (`put_logo`).
    pub fn set_folder_look(&self, slug: &str, look: &Look) -> Result<Look> {
        let text = json(look)?;
        self.write(|tx| {
            folders::require(tx, slug)?;
            require_logo(tx, look)?;
            tx.execute(
                "UPDATE folders SET look = ?2, updated_at = ?3 WHERE slug = ?1",
                params![slug, text, now_ms()],
            )?;
            drop_unused_logos(tx)?;
            folder_look(tx, slug)
        })
    }

    /// Replaces a live widget app's overrides of its agent's look.
    pub fn set_app_look(&self, id: &str, look: &Look) -> Result<Look> {
        let text = json(look)?;
        self.write(|tx| {
            apps::require_live(tx, id)?;
            require_logo(tx, look)?;
            tx.execute(
                "UPDATE widget_apps SET look = ?2 WHERE id = ?1",
                params![id, text],
            )?;
            drop_unused_logos(tx)?;
            app_look(tx, id)
        })
    }

    /// Keeps a checked logo; the same image twice is one row. It stays until no look names it
    /// (the next look change sweeps it).
    pub fn put_logo(&self, logo: &Logo) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO logos(id, mime, bytes, width, height, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING",
                params![
                    logo.id,
                    logo.kind.mime(),
                    logo.bytes,
                    logo.width,
                    logo.height,
                    now_ms()
                ],
            )?;
            Ok(())
        })
    }

    /// A stored logo's format and bytes.
    pub fn logo(&self, id: &str) -> Result<Option<(ImageKind, Vec<u8>)>> {
        self.read(|c| {
            let row: Option<(String, Vec<u8>)> = c
                .prepare_cached("SELECT mime, bytes FROM logos WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(row.and_then(|(mime, bytes)| ImageKind::from_mime(&mime).map(|k| (k, bytes))))
        })
    }

    /// Replaces the websites allowed to embed a chat link.
    pub fn set_token_origins(&self, id: i64, origins: &[String]) -> Result<tokens::TokenRow> {
        self.write(|tx| {
            tokens::by_id(tx, id)?;
            tx.execute(
                "UPDATE tokens SET origins = ?2 WHERE id = ?1",
                params![id, origins.join("\n")],
            )?;
            tokens::by_id(tx, id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;
    use crate::brand::{Rgb, Side};

    fn logo(byte: u8) -> Logo {
        Logo {
            id: format!("{byte:032x}"),
            kind: ImageKind::Png,
            width: 64,
            height: 64,
            bytes: vec![byte; 10],
        }
    }

    #[test]
    fn looks_round_trip_and_a_replaced_logo_is_swept() {
        let (_d, s) = temp_store();
        s.create_folder("acme", "Acme", "Hi", "").expect("folder");
        assert_eq!(s.folder_look("acme").expect("default"), Look::default());
        let (a, b) = (logo(1), logo(2));
        let with = |l: &Logo| Look {
            accent: Some(Rgb(1, 2, 3)),
            logo: Some(l.id.clone()),
            side: Some(Side::Left),
            ..Look::default()
        };
        assert_eq!(
            s.set_folder_look("acme", &with(&a))
                .expect_err("not stored yet")
                .code(),
            "not_found"
        );
        s.put_logo(&a).expect("a");
        s.put_logo(&a).expect("the same logo again is one row");
        assert_eq!(s.set_folder_look("acme", &with(&a)).expect("set"), with(&a));
        s.put_logo(&b).expect("b");
        s.set_folder_look("acme", &with(&b)).expect("replace");
        assert!(
            s.logo(&a.id).expect("read").is_none(),
            "the old logo is gone"
        );
        assert_eq!(
            s.logo(&b.id).expect("read"),
            Some((ImageKind::Png, b.bytes.clone()))
        );
        assert_eq!(
            s.set_folder_look("nope", &Look::default())
                .expect_err("unknown agent")
                .code(),
            "not_found"
        );
    }
}
