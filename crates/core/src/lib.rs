//! Chatlink core: the chat server, its store, route tokens, agents and the `App` facade that every
//! front end (the `chatlink` CLI, the desktop window) holds.

pub mod agent;
pub mod app;
pub mod brand;
mod demo;
pub mod error;
pub mod feed;
pub mod files;
pub mod http;
pub mod hub;
pub mod i18n;
pub mod jid;
pub mod jwt;
pub mod knowledge;
pub mod model;
pub mod qr;
pub mod secret;
#[cfg(feature = "bench")]
mod slowdown;
pub mod store;
pub mod token;
pub mod tunnel;
pub mod turn;

pub use error::{Error, Result};

pub use app::{App, AppConfig, Limits};
