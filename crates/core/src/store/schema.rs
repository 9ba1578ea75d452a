//! Ordered, append-only migrations. Never edit a released step: add a new one.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::error::Result;

const STEPS: &[&str] = &[
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE folders (
    slug            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    greeting        TEXT NOT NULL,
    instructions    TEXT NOT NULL,
    engine          TEXT NOT NULL DEFAULT 'answers' CHECK (engine IN ('answers', 'openai')),
    openai_base_url TEXT,
    openai_model    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE knowledge (
    id         INTEGER PRIMARY KEY,
    folder     TEXT NOT NULL REFERENCES folders(slug) ON DELETE CASCADE,
    question   TEXT,
    answer     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX knowledge_by_folder ON knowledge(folder, id);

CREATE TABLE route_rules (
    jid      TEXT PRIMARY KEY,
    folder   TEXT NOT NULL REFERENCES folders(slug) ON DELETE CASCADE,
    persona  TEXT,
    greeting TEXT
) STRICT;

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    folder       TEXT NOT NULL REFERENCES folders(slug),
    kind         TEXT NOT NULL CHECK (kind IN ('web', 'hook')),
    jid          TEXT NOT NULL,
    suffix       TEXT,
    source       TEXT,
    label        TEXT,
    hash         BLOB NOT NULL UNIQUE,
    sealed       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX tokens_by_jid ON tokens(jid);
CREATE INDEX tokens_by_folder ON tokens(folder);
CREATE INDEX tokens_revoked ON tokens(revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    folder     TEXT NOT NULL REFERENCES folders(slug),
    jid        TEXT NOT NULL,
    token_id   INTEGER REFERENCES tokens(id),
    state      TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'handoff', 'resolved')),
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX conversations_by_update ON conversations(updated_at);

CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn_id         TEXT,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'owner')),
    content         TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_by_conversation ON messages(conversation_id, seq);

CREATE TABLE turns (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    token_id        INTEGER REFERENCES tokens(id),
    status          TEXT NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'ok', 'error', 'handoff')),
    first_seq       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    ended_at        INTEGER
) STRICT;
CREATE INDEX turns_running ON turns(conversation_id) WHERE status = 'running';

CREATE TABLE frames (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    turn_id         TEXT NOT NULL,
    event           TEXT NOT NULL,
    data            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) STRICT, WITHOUT ROWID;
"#,
    r#"
-- Widget apps. The appSecret is in the secret store, never here; `generation` counts rotations
-- and is mixed into the app's JWT key, so a rotation also ends the sessions signed before it.
CREATE TABLE widget_apps (
    id         TEXT PRIMARY KEY,
    folder     TEXT NOT NULL REFERENCES folders(slug),
    name       TEXT NOT NULL,
    origins    TEXT NOT NULL DEFAULT '',
    token_ttl  INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
) STRICT;

-- A widget end user's conversation is found by (app, end user id), on any device.
ALTER TABLE conversations ADD COLUMN app_id TEXT REFERENCES widget_apps(id);
ALTER TABLE conversations ADD COLUMN end_user TEXT;
CREATE UNIQUE INDEX conversations_by_end_user ON conversations(app_id, end_user)
    WHERE app_id IS NOT NULL;
"#,
    r#"
-- The window's counts: messages per link, and conversations waiting for the owner.
CREATE INDEX conversations_by_token ON conversations(token_id) WHERE token_id IS NOT NULL;
CREATE INDEX conversations_by_created ON conversations(created_at);
CREATE INDEX conversations_in_handoff ON conversations(state) WHERE state = 'handoff';
"#,
    r#"
-- The owner's inbox. `taken_over_at`: the owner answers this conversation and the agent stays
-- quiet until it is handed back or resolved.
ALTER TABLE conversations ADD COLUMN taken_over_at INTEGER;
-- Charts, exports and retention work by date.
CREATE INDEX messages_by_created ON messages(created_at);
"#,
    r#"
-- Visitor messages per link as a counter the turn path keeps (and retention lowers), so listing
-- links reads one row each instead of counting every message. Filled once from the messages.
ALTER TABLE tokens ADD COLUMN visitor_messages INTEGER NOT NULL DEFAULT 0;
UPDATE tokens SET visitor_messages = (
    SELECT COUNT(*) FROM conversations c
      JOIN messages m ON m.conversation_id = c.id AND m.role = 'user'
     WHERE c.token_id = tokens.id);
"#,
    r#"
-- The owner's brakes. A paused link answers "back soon" (503) until resumed; a blocked
-- conversation's messages are refused.
ALTER TABLE tokens ADD COLUMN paused_at INTEGER;
ALTER TABLE conversations ADD COLUMN blocked_at INTEGER;
-- Per-agent ceilings on a provider's use (NULL: the server's default), and what each agent
-- spent per UTC day: requests, and tokens as the provider reports them (characters if none).
ALTER TABLE folders ADD COLUMN max_tokens INTEGER;
ALTER TABLE folders ADD COLUMN daily_requests INTEGER;
ALTER TABLE folders ADD COLUMN daily_tokens INTEGER;
CREATE TABLE usage (
    folder   TEXT NOT NULL REFERENCES folders(slug) ON DELETE CASCADE,
    day      TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folder, day)
) STRICT, WITHOUT ROWID;
"#,
    r#"
-- The shop's look (`brand::Look` as JSON) per agent, and a widget app's overrides of it.
ALTER TABLE folders ADD COLUMN look TEXT NOT NULL DEFAULT '{}';
ALTER TABLE widget_apps ADD COLUMN look TEXT NOT NULL DEFAULT '{}';
-- Logos, named by their content's hash, so a URL of one can be cached for ever.
CREATE TABLE logos (
    id         TEXT PRIMARY KEY,
    mime       TEXT NOT NULL CHECK (mime IN ('image/png', 'image/jpeg', 'image/webp')),
    bytes      BLOB NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
-- Websites that may embed a chat link's widget (one origin per line); empty: none, only the
-- link's own page.
ALTER TABLE tokens ADD COLUMN origins TEXT NOT NULL DEFAULT '';
"#,
    r#"
-- Knowledge entries: the language each is written in (NULL: read from its text) and other ways
-- visitors ask it ("also asked as", a JSON array of strings).
ALTER TABLE knowledge ADD COLUMN lang TEXT;
ALTER TABLE knowledge ADD COLUMN phrasings TEXT NOT NULL DEFAULT '[]';
-- Moved by every change to an agent's knowledge: an index built for one value stays good
-- until it moves, on this instance or another.
ALTER TABLE folders ADD COLUMN knowledge_rev INTEGER NOT NULL DEFAULT 0;
-- Questions the agent handed off, one row per way of asking (`key`: its words as the index
-- reads them), so the owner sees the most asked first and can answer them once.
CREATE TABLE unanswered (
    folder       TEXT NOT NULL REFERENCES folders(slug) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    question     TEXT NOT NULL,
    lang         TEXT,
    asks         INTEGER NOT NULL DEFAULT 1,
    conversation TEXT,
    first_at     INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    PRIMARY KEY (folder, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX unanswered_by_asks ON unanswered(folder, asks DESC, last_at DESC);
"#,
    r#"
-- Optional semantic matching: the embeddings server and model an agent's knowledge is embedded
-- with (both NULL: words alone). The API key, if any, is in the secret store.
ALTER TABLE folders ADD COLUMN embed_url TEXT;
ALTER TABLE folders ADD COLUMN embed_model TEXT;
-- Vectors of the knowledge's texts, by the text's SHA-256 and the server and model that made
-- them, so an edit re-embeds only what changed. A cache: losing it costs a re-embedding.
CREATE TABLE embeddings (
    folder TEXT NOT NULL REFERENCES folders(slug) ON DELETE CASCADE,
    model  TEXT NOT NULL,
    hash   BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (folder, model, hash)
) STRICT, WITHOUT ROWID;
"#,
];

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let migrations = Migrations::new(STEPS.iter().map(|s| M::up(s)).collect());
    migrations.to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQL spells the model's words out (partial indexes need literals): every word the model
    /// has must be one the table's CHECK accepts.
    #[test]
    fn every_model_word_fits_its_column() {
        use crate::model::{ConversationState, Role, TurnStatus};
        let (_d, store) = crate::store::test_util::temp_store();
        store
            .write(|tx| {
                tx.execute(
                    "INSERT INTO folders(slug, name, greeting, instructions, created_at, updated_at)
                     VALUES ('f', 'F', '', '', 0, 0)",
                    [],
                )?;
                for (i, state) in ConversationState::ALL.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO conversations(id, folder, jid, state, created_at, updated_at)
                         VALUES (?1, 'f', 'web:f', ?2, 0, 0)",
                        rusqlite::params![format!("c{i}"), state],
                    )?;
                }
                for (i, role) in Role::ALL.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO messages(id, conversation_id, role, content, created_at)
                         VALUES (?1, 'c0', ?2, '', 0)",
                        rusqlite::params![format!("m{i}"), role],
                    )?;
                }
                for (i, status) in TurnStatus::ALL.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO turns(id, conversation_id, status, first_seq, created_at)
                         VALUES (?1, 'c0', ?2, 1, 0)",
                        rusqlite::params![format!("t{i}"), status],
                    )?;
                }
                let refused = tx.execute(
                    "INSERT INTO turns(id, conversation_id, status, first_seq, created_at)
                     VALUES ('x', 'c0', 'paused', 1, 0)",
                    [],
                );
                assert!(refused.is_err(), "a word the model lacks is refused");
                Ok(())
            })
            .expect("every word is accepted");
    }

    /// Migration 5 counts the messages an older folder already holds into each link's counter.
    #[test]
    fn the_link_counter_starts_from_the_messages_already_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("old.db")).expect("open");
        let migrations = Migrations::new(STEPS.iter().map(|s| M::up(s)).collect());
        migrations
            .to_version(&mut conn, 4)
            .expect("the schema before the counter");
        conn.execute_batch(
            "INSERT INTO folders(slug, name, greeting, instructions, created_at, updated_at)
                 VALUES ('f', 'F', '', '', 0, 0);
             INSERT INTO tokens(id, folder, kind, jid, hash, sealed, created_at)
                 VALUES (1, 'f', 'web', 'web:f', x'01', x'01', 0),
                        (2, 'f', 'web', 'web:f/x', x'02', x'02', 0);
             INSERT INTO conversations(id, folder, jid, token_id, created_at, updated_at)
                 VALUES ('c1', 'f', 'web:f', 1, 0, 0), ('c2', 'f', 'web:f', 1, 0, 0);
             INSERT INTO messages(id, conversation_id, role, content, created_at)
                 VALUES ('m1', 'c1', 'user', 'a', 0), ('m2', 'c1', 'assistant', 'b', 0),
                        ('m3', 'c2', 'user', 'c', 0), ('m4', 'c2', 'user', 'd', 0);",
        )
        .expect("an old folder's rows");
        migrate(&mut conn).expect("up to date");
        let counts: Vec<(i64, i64)> = conn
            .prepare("SELECT id, visitor_messages FROM tokens ORDER BY id")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .expect("counts");
        assert_eq!(counts, [(1, 3), (2, 0)], "visitor messages only, per link");
    }

    #[test]
    fn migrations_are_valid() {
        let migrations = Migrations::new(STEPS.iter().map(|s| M::up(s)).collect());
        migrations.validate().expect("valid migrations");
    }
}
