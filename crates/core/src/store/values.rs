//! The model's words and JIDs as SQLite values: stored as their text, read back through the same
//! parser every other input goes through, so a row with a word this version does not know is an
//! error, not a silent default.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::jid::Jid;
use crate::model::{ConversationState, FrameEvent, Role, TokenKind, TurnStatus};

macro_rules! text_column {
    ($($t:ty),+) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    )+};
}

text_column!(Role, TurnStatus, ConversationState, FrameEvent, TokenKind);

impl ToSql for Jid {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Jid {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use crate::jid::Jid;
    use crate::model::{ConversationState, Role};

    #[test]
    fn words_and_jids_round_trip_and_unknown_words_are_errors() {
        let (_d, store) = temp_store();
        store
            .read(|c| {
                let (role, state, jid): (Role, ConversationState, Jid) = c.query_row(
                    "SELECT ?1, ?2, ?3",
                    rusqlite::params![
                        Role::Owner,
                        ConversationState::Handoff,
                        Jid::web("acme", Some("x"))?
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                assert_eq!((role, state), (Role::Owner, ConversationState::Handoff));
                assert_eq!(jid.to_string(), "web:acme/x");
                let bad = c.query_row("SELECT 'robot'", [], |r| r.get::<_, Role>(0));
                assert!(bad.is_err(), "an unknown role is an error");
                Ok(())
            })
            .expect("read");
    }
}
