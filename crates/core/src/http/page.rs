//! The chat page and the link error page: embedded assets filled in, with a CSP that allows
//! exactly their own inline script and style (by hash) and nothing from anywhere else.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::app::ChatPage;
use crate::brand::Shown;
use crate::error::Error;
use crate::i18n::Lang;

const CHAT_HTML: &str = include_str!("../../assets/chat.html");
const CHAT_CSS: &str = include_str!("../../assets/chat.css");
const CHAT_JS: &str = include_str!("../../assets/chat.js");
/// The reply renderer the page and the widget share (see `assets/rich.js`).
const RICH_JS: &str = include_str!("../../assets/rich.js");
const ERROR_HTML: &str = include_str!("../../assets/error.html");

fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The chat page's CSP: its own script and styles by hash (the look's style differs per agent,
/// so that hash is per page), images from this server (the logo) and nothing from anywhere else.
fn chat_csp(look_css: &str) -> HeaderValue {
    let csp = format!(
        "default-src 'none'; script-src {}; style-src {} {}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
        sha256_source(chat_script()),
        sha256_source(CHAT_CSS),
        sha256_source(look_css),
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

fn error_csp(look_css: &str) -> HeaderValue {
    let csp = format!(
        "default-src 'none'; style-src {} {}; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
        sha256_source(CHAT_CSS),
        sha256_source(look_css),
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// The page's script: the shared reply renderer, then the page's own code, in one scope.
pub(super) fn chat_script() -> &'static str {
    static SCRIPT: OnceLock<String> = OnceLock::new();
    SCRIPT.get_or_init(|| visitor_script(CHAT_JS))
}

/// A visitor-facing script as served: the reply renderer and `code` in one scope (so a page
/// gains no global names), without whole-line `//` comments, which are for us, not for every
/// visitor's phone to download. The assets keep `//` out of their template literals' line
/// starts, so dropping those lines never changes a string.
pub(super) fn visitor_script(code: &str) -> String {
    let mut out = String::from("(() => {\n");
    for line in RICH_JS.lines().chain(code.lines()) {
        if !line.trim_start().starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("})();\n");
    out
}

/// A CSS string literal of our own catalog text: quotes, backslashes and anything that could
/// end the style element are escaped.
fn css_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c.is_alphanumeric() || matches!(c, ' ' | '.' | ',' | '!' | '?' | '-' | '\'') {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:x} ", c as u32));
        }
    }
    out.push('"');
    out
}

/// The look as CSS custom properties for both themes, and the labels CSS shows in `lang`.
fn look_css(look: &Shown, lang: Lang) -> String {
    let cat = lang.catalog();
    format!(
        ":root{{{};--link:{};--team:{}}}\
         @media (prefers-color-scheme: dark){{:root{{{};--link:{}}}}}",
        look.palette.css(),
        look.palette.accent.hex(),
        css_string(cat.get("chat.team")),
        look.palette.css_dark(),
        look.palette.accent_dark.hex(),
    )
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

fn with_headers(status: StatusCode, html: String, csp: HeaderValue, lang: Lang) -> Response {
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    // The language follows the visitor's Accept-Language: a shared cache must not mix them.
    h.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    res
}

pub fn chat(page: &ChatPage) -> Response {
    let lang = page.lang;
    let config = serde_json::json!({
        "name": page.look.title,
        "greeting": page.greeting,
        "suggestions": page.suggestions,
        "lang": lang,
        "strings": lang.catalog().value(),
    });
    let css = look_css(&page.look, lang);
    let logo = page
        .look
        .logo
        .as_deref()
        .map(|src| {
            format!(
                "<img class=\"logo\" src=\"{}\" alt=\"\" width=\"36\" height=\"36\">",
                escape_html(src)
            )
        })
        .unwrap_or_default();
    let title = escape_html(&page.look.title);
    let html = fill(CHAT_HTML, |key| match key {
        "STYLE" => Some(CHAT_CSS.to_owned()),
        "LOOK" => Some(css.clone()),
        "SCRIPT" => Some(chat_script().to_owned()),
        "CONFIG" => Some(script_json(&config)),
        "TITLE" => Some(title.clone()),
        "LOGO" => Some(logo.clone()),
        "LANG" => Some(lang.code().to_owned()),
        "DIR" => Some(lang.dir().to_owned()),
        "LOG_LABEL" => Some(escape_html(
            &lang.text("chat.log", &[("name", &page.look.title)]),
        )),
        _ => key
            .strip_prefix("t:")
            .map(|k| escape_html(lang.catalog().get(k))),
    });
    with_headers(StatusCode::OK, html, chat_csp(&css), lang)
}

/// Fills `{{NAME}}` placeholders in one pass over the template, so text an owner typed (a
/// name, a greeting) is never searched for placeholders itself. Unknown names stay as written.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let tail = &rest[start + 2..];
        match tail
            .find("}}")
            .and_then(|end| value(&tail[..end]).map(|v| (end, v)))
        {
            Some((end, v)) => {
                out.push_str(&v);
                rest = &tail[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A friendly page for a link that does not (or no longer) work, in the visitor's language.
pub fn error(e: &Error, lang: Lang) -> Response {
    let page = match e {
        Error::LinkRevoked => "revoked",
        Error::LinkExpired => "expired",
        Error::NotFound { .. } => "not_found",
        Error::LinkPaused => "paused",
        Error::RateLimited { .. } | Error::TooManyStreams | Error::ShuttingDown => "busy",
        _ => "error",
    };
    let cat = lang.catalog();
    let css = look_css(&crate::brand::Look::default().shown(""), lang);
    let html = fill(ERROR_HTML, |key| match key {
        "STYLE" => Some(CHAT_CSS.to_owned()),
        "LOOK" => Some(css.clone()),
        "HEADING" => Some(escape_html(cat.get(&format!("page.{page}.title")))),
        "MESSAGE" => Some(escape_html(cat.get(&format!("page.{page}.text")))),
        "REFERENCE" => Some(escape_html(cat.get("page.reference"))),
        "CODE" => Some(e.code().to_owned()),
        "LANG" => Some(lang.code().to_owned()),
        "DIR" => Some(lang.dir().to_owned()),
        _ => None,
    });
    let status = super::error::status(e);
    if status.is_server_error() {
        super::error::public_message(e);
    }
    let mut res = with_headers(status, html, error_csp(&css), lang);
    if let Some(v) = super::error::retry_after(e) {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brand::Look;

    fn page(name: &str, greeting: &str, lang: Lang) -> ChatPage {
        ChatPage {
            name: name.into(),
            greeting: greeting.into(),
            suggestions: Vec::new(),
            look: Look::default().shown(name),
            lang,
        }
    }

    async fn body(res: Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf8")
    }

    #[tokio::test]
    async fn page_escapes_the_name_and_keeps_the_config_inside_its_script() {
        let res = chat(&page(
            "<b>Bad & \"Co\"</b>",
            "</script><script>alert(1)</script>",
            Lang::En,
        ));
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .to_owned();
        assert!(
            csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let html = body(res).await;
        assert!(html.contains("&lt;b&gt;Bad &amp; &quot;Co&quot;&lt;/b&gt;"));
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "only the page's own two script elements close"
        );
        assert!(!html.contains("{{"), "every placeholder filled");
    }

    #[tokio::test]
    async fn owner_text_is_never_read_as_a_placeholder() {
        let html = body(chat(&page(
            "{{CONFIG}} & Co",
            "Hi {{TITLE}} {{SCRIPT}}",
            Lang::En,
        )))
        .await;
        assert!(
            html.contains("<title>{{CONFIG}} &amp; Co"),
            "the name stays literal"
        );
        assert!(
            html.contains("Hi {{TITLE}} {{SCRIPT}}"),
            "the greeting stays literal"
        );
        assert_eq!(
            html.matches(chat_script()).count(),
            1,
            "the script appears once"
        );
        let values = |k: &str| (k == "X").then(|| "{{Y}}".to_owned());
        assert_eq!(fill("a{{X}}b{{Y}}{{", values), "a{{Y}}b{{Y}}{{");
    }

    #[tokio::test]
    async fn the_page_speaks_the_visitors_language_with_the_shops_colours() {
        let mut p = page("Bäckerei", "", Lang::De);
        p.look = Look {
            accent: Some(crate::brand::Rgb::parse("#ffee00").expect("colour")),
            ..Look::default()
        }
        .shown("Bäckerei");
        let res = chat(&p);
        assert_eq!(res.headers()[header::CONTENT_LANGUAGE], "de");
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .to_owned();
        let html = body(res).await;
        assert!(html.starts_with("<!doctype html>\n<html lang=\"de\" dir=\"ltr\">"));
        assert!(html.contains(&escape_html(Lang::De.catalog().get("composer.placeholder"))));
        let css = look_css(&p.look, Lang::De);
        assert!(html.contains(&css) && csp.contains(&sha256_source(&css)));
        assert!(css.contains(&p.look.palette.accent.hex()) && p.look.palette.adjusted);
        let rtl = body(chat(&page("x", "", Lang::Ar))).await;
        assert!(rtl.contains("<html lang=\"ar\" dir=\"rtl\">"));
    }

    #[test]
    fn the_csp_hashes_match_the_inline_assets() {
        let css = look_css(&Look::default().shown("x"), Lang::En);
        let csp = chat_csp(&css);
        let csp = csp.to_str().expect("csp");
        assert!(csp.contains(&sha256_source(chat_script())));
        assert!(csp.contains(&sha256_source(CHAT_CSS)));
        assert!(!csp.contains("http"), "no external source is allowed");
        assert!(chat_script().contains("function renderRich(text)"));
        assert!(!chat_script().contains("\n// "), "comments stay home");
    }

    fn gzipped(text: &str) -> usize {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(text.as_bytes()).expect("gzip");
        z.finish().expect("gzip").len()
    }

    /// The weights visitors download: the chat page under 40 KB as sent (its catalog included),
    /// the widget under 15 KB gzipped (its catalog comes with its config, for one language).
    #[tokio::test]
    async fn the_page_and_the_widget_stay_within_their_weights() {
        let mut heaviest = 0;
        for lang in Lang::ALL {
            let html = body(chat(&page(
                "Rosie's Bakery",
                "Hello! How can I help?",
                lang,
            )))
            .await;
            heaviest = heaviest.max(html.len());
        }
        println!(
            "chat page: {heaviest} bytes, {} gzipped",
            gzipped(&body(chat(&page("R", "", Lang::En))).await)
        );
        assert!(
            heaviest < 40 * 1024,
            "the chat page weighs {heaviest} bytes"
        );
        let widget = gzipped(super::super::widget::script_text());
        println!("widget script: {widget} bytes gzipped");
        assert!(
            widget < 15 * 1024,
            "the widget weighs {widget} bytes gzipped"
        );
    }

    #[test]
    fn css_strings_cannot_end_the_style() {
        assert_eq!(css_string("Team"), "\"Team\"");
        let evil = css_string("a\"}</style><script>");
        assert!(
            !evil.contains('<') && !evil[1..evil.len() - 1].contains('"'),
            "{evil}"
        );
    }

    #[tokio::test]
    async fn error_pages_carry_status_code_and_the_visitors_language() {
        let res = error(&Error::LinkRevoked, Lang::Fr);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let html = body(res).await;
        assert!(html.contains(&escape_html(Lang::Fr.catalog().get("page.revoked.title"))));
        assert!(html.contains("<html lang=\"fr\""));
        let res = error(&Error::NotFound { what: "link" }, Lang::En);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
