//! The chat page and the link error page: embedded assets filled in, with a CSP that allows
//! exactly their own inline script and style (by hash) and nothing from anywhere else.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::app::ChatPage;
use crate::error::Error;

const CHAT_HTML: &str = include_str!("../../assets/chat.html");
const CHAT_CSS: &str = include_str!("../../assets/chat.css");
const CHAT_JS: &str = include_str!("../../assets/chat.js");
const ERROR_HTML: &str = include_str!("../../assets/error.html");

fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

fn chat_csp() -> &'static HeaderValue {
    static CSP: OnceLock<HeaderValue> = OnceLock::new();
    CSP.get_or_init(|| {
        let csp = format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src data:; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
            sha256_source(CHAT_JS),
            sha256_source(CHAT_CSS)
        );
        HeaderValue::from_str(&csp)
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
    })
}

fn error_csp() -> &'static HeaderValue {
    static CSP: OnceLock<HeaderValue> = OnceLock::new();
    CSP.get_or_init(|| {
        let csp = format!(
            "default-src 'none'; style-src {}; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
            sha256_source(CHAT_CSS)
        );
        HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
    })
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe inside a `<script>` element: no `</script>` or `<!--` can close it early.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn with_headers(status: StatusCode, html: String, csp: &HeaderValue) -> Response {
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    res
}

pub fn chat(page: &ChatPage) -> Response {
    let config = serde_json::json!({"name": page.name, "greeting": page.greeting});
    let html = fill(
        CHAT_HTML,
        &[
            ("{{STYLE}}", CHAT_CSS),
            ("{{SCRIPT}}", CHAT_JS),
            ("{{CONFIG}}", &script_json(&config)),
            ("{{TITLE}}", &escape_html(&page.name)),
        ],
    );
    with_headers(StatusCode::OK, html, chat_csp())
}

/// Fills placeholders in one pass over the template, so text an owner typed (a name, a greeting)
/// is never searched for placeholders itself.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|v| v.1.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match values.iter().find(|(key, _)| tail.starts_with(key)) {
            Some((key, value)) => {
                out.push_str(value);
                rest = &tail[key.len()..];
            }
            None => {
                out.push_str("{{");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A friendly page for a link that does not (or no longer) work.
pub fn error(e: &Error) -> Response {
    let (heading, message) = match e {
        Error::LinkRevoked => (
            "This chat link has been turned off",
            "The business that shared it no longer uses this link. If you need to reach them, ask them for a new one.",
        ),
        Error::LinkExpired => (
            "This chat link has expired",
            "It was only valid for a limited time. If you need to reach the business, ask them for a new link.",
        ),
        Error::NotFound { .. } => (
            "This chat link doesn't exist",
            "Check that the whole link was copied, including every character after /chat/.",
        ),
        Error::LinkPaused => (
            "Back soon",
            "This chat is paused for the moment. Please come back a little later.",
        ),
        Error::RateLimited { .. } | Error::TooManyStreams | Error::ShuttingDown => {
            ("The chat is busy", "Please try again in a moment.")
        }
        _ => (
            "Something went wrong",
            "The chat could not be opened. Please try again in a moment.",
        ),
    };
    let html = ERROR_HTML
        .replace("{{STYLE}}", CHAT_CSS)
        .replace("{{TITLE}}", heading)
        .replace("{{HEADING}}", heading)
        .replace("{{MESSAGE}}", &escape_html(message))
        .replace("{{CODE}}", e.code());
    let status = super::error::status(e);
    if status.is_server_error() {
        super::error::public_message(e);
    }
    let mut res = with_headers(status, html, error_csp());
    if let Some(v) = super::error::retry_after(e) {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn page_escapes_the_name_and_keeps_the_config_inside_its_script() {
        let res = chat(&ChatPage {
            name: "<b>Bad & \"Co\"</b>".into(),
            greeting: "</script><script>alert(1)</script>".into(),
        });
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .to_owned();
        assert!(
            csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let html = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        let html = String::from_utf8(html.to_vec()).expect("utf8");
        assert!(html.contains("&lt;b&gt;Bad &amp; &quot;Co&quot;&lt;/b&gt;"));
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "only the page's own two script elements close"
        );
        assert!(!html.contains("{{"), "every placeholder filled");
    }

    #[test]
    fn owner_text_is_never_read_as_a_placeholder() {
        let page = ChatPage {
            name: "{{CONFIG}} & Co".into(),
            greeting: "Hi {{TITLE}} {{SCRIPT}}".into(),
        };
        let res = chat(&page);
        let html = futures_util::FutureExt::now_or_never(axum::body::to_bytes(
            res.into_body(),
            usize::MAX,
        ))
        .and_then(Result::ok)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
        assert!(
            html.contains("<title>{{CONFIG}} &amp; Co"),
            "the name stays literal"
        );
        assert!(
            html.contains("Hi {{TITLE}} {{SCRIPT}}"),
            "the greeting stays literal"
        );
        assert_eq!(html.matches(CHAT_JS).count(), 1, "the script appears once");
        assert_eq!(
            fill("a{{X}}b{{Y}}{{", &[("{{X}}", "{{Y}}")]),
            "a{{Y}}b{{Y}}{{"
        );
    }

    #[test]
    fn the_csp_hashes_match_the_inline_assets() {
        let csp = chat_csp().to_str().expect("csp");
        assert!(csp.contains(&sha256_source(CHAT_JS)));
        assert!(csp.contains(&sha256_source(CHAT_CSS)));
        assert!(!csp.contains("http"), "no external source is allowed");
    }

    #[test]
    fn error_pages_carry_status_and_code() {
        let res = error(&Error::LinkRevoked);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = error(&Error::NotFound { what: "link" });
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
