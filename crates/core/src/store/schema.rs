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
];

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let migrations = Migrations::new(STEPS.iter().map(|s| M::up(s)).collect());
    migrations.to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        let migrations = Migrations::new(STEPS.iter().map(|s| M::up(s)).collect());
        migrations.validate().expect("valid migrations");
    }
}
