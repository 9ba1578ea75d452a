//! The crate's one error type. Every front end maps errors by `code()`, never by message text.

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; the message says which and how to fix it.
    #[error("{0}")]
    Invalid(String),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{0}")]
    Conflict(String),
    #[error("this link has been turned off by its owner")]
    LinkRevoked,
    #[error("this link has expired")]
    LinkExpired,
    /// The owner paused the link for now (unlike a revocation, it comes back).
    #[error("this chat is paused for the moment; please come back soon")]
    LinkPaused,
    #[error("this conversation has been closed by the shop")]
    ConversationBlocked,
    /// The token endpoint's answer for a wrong secret, an unknown app and a revoked app alike.
    #[error("the appId and appSecret do not match an active widget app")]
    BadCredentials,
    /// A widget request without a valid session JWT (missing, expired, forged or revoked app).
    #[error("the chat session is missing, expired or no longer valid; get a new token")]
    InvalidSession,
    #[error("this website is not allowed to use this chat")]
    OriginNotAllowed,
    #[error("the request is too large (at most {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("too many requests; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// The client took longer than `body_read_timeout` to send its request.
    #[error("the request took too long to arrive")]
    RequestTimeout,
    #[error("too many open chats right now; try again in a moment")]
    TooManyStreams,
    #[error("a reply is still being written in this conversation; wait for it to finish")]
    TurnInProgress,
    #[error(
        "no OS keyring is reachable ({detail}). On a desktop, start or unlock your keyring \
         (GNOME Keyring, KWallet) and try again; on a headless server run with `--secrets file` \
         to keep secrets in a mode-0600 file in the data folder instead"
    )]
    KeyringUnavailable { detail: String },
    #[error("{0}")]
    SecretStore(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The public-address self-test did not prove that visitors reach this server.
    #[error("your links are not public yet: {0}")]
    Unreachable(String),
    #[error("database error: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A stable, machine-readable code for this error; UIs and tests match on this.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::Conflict(_) => "conflict",
            Error::LinkRevoked => "link_revoked",
            Error::LinkExpired => "link_expired",
            Error::LinkPaused => "link_paused",
            Error::ConversationBlocked => "conversation_blocked",
            Error::BadCredentials => "bad_credentials",
            Error::InvalidSession => "invalid_session",
            Error::OriginNotAllowed => "origin_not_allowed",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::RateLimited { .. } => "rate_limited",
            Error::RequestTimeout => "request_timeout",
            Error::TooManyStreams => "too_many_streams",
            Error::TurnInProgress => "turn_in_progress",
            Error::KeyringUnavailable { .. } => "keyring_unavailable",
            Error::SecretStore(_) => "secret_store",
            Error::ShuttingDown => "shutting_down",
            Error::Unreachable(_) => "unreachable",
            Error::Store(_) | Error::Migration(_) => "storage",
            Error::Io { .. } => "io",
            Error::Internal(_) => "internal",
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// True for errors caused by the caller's input (as opposed to the server failing).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            Error::Store(_)
                | Error::Migration(_)
                | Error::Io { .. }
                | Error::Internal(_)
                | Error::KeyringUnavailable { .. }
                | Error::SecretStore(_)
                | Error::ShuttingDown
                | Error::TooManyStreams
                | Error::Unreachable(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_messages_readable() {
        assert_eq!(Error::LinkRevoked.code(), "link_revoked");
        assert_eq!(
            Error::NotFound { what: "link" }.to_string(),
            "link not found"
        );
        let e = Error::RateLimited {
            retry_after: Duration::from_millis(200),
        };
        assert_eq!(e.code(), "rate_limited");
        assert!(e.to_string().contains("1 s"), "{e}");
        let k = Error::KeyringUnavailable {
            detail: "no dbus".into(),
        };
        assert!(k.to_string().contains("--secrets file"));
        assert!(!k.is_client_error());
        assert!(Error::invalid("x").is_client_error());
    }
}
