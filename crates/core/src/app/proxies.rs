//! Reverse-proxy configurations for an owner's own domain, generated for their address and
//! port: streamed replies must pass word by word (no buffering) and quiet streams must stay open
//! (long read timeouts), and the proxy must say who the visitor is (`X-Forwarded-For`), which
//! Chatlink believes once the proxy's address is in `trusted_proxies`.

use serde::{Deserialize, Serialize};

use super::settings::normalize_base_url;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ProxyServer {
    Nginx,
    Caddy,
}

impl ProxyServer {
    pub fn parse(s: &str) -> Result<ProxyServer> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nginx" => Ok(ProxyServer::Nginx),
            "caddy" => Ok(ProxyServer::Caddy),
            _ => Err(Error::invalid(format!(
                "{s:?} is not a proxy Chatlink writes settings for: use nginx or caddy"
            ))),
        }
    }
}

/// The configuration text for `server` in front of Chatlink on 127.0.0.1:`port`, visited at
/// `public_url`.
pub fn proxy_config(server: ProxyServer, public_url: &str, port: u16) -> Result<String> {
    let url = normalize_base_url(public_url)?;
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| Error::invalid(format!("{url:?} is not a URL: {e}")))?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    if parsed.path() != "/" {
        return Err(Error::invalid(
            "the generated settings serve Chatlink at the root of its own (sub)domain, e.g. https://chat.example.com; a path after the host needs hand-written settings",
        ));
    }
    let tls = parsed.scheme() == "https";
    Ok(match server {
        ProxyServer::Nginx => nginx(&url, &host, port, tls),
        ProxyServer::Caddy => caddy(&url, &host, port, tls),
    })
}

fn nginx(url: &str, host: &str, port: u16, tls: bool) -> String {
    let certbot = if tls {
        format!(
            "# For https, let certbot add the certificate afterwards: certbot --nginx -d {host}\n"
        )
    } else {
        String::new()
    };
    format!(
        "# Chatlink behind nginx: {url} -> http://127.0.0.1:{port}
# Save as /etc/nginx/sites-available/chatlink, link it into sites-enabled, then run
# `nginx -t && systemctl reload nginx`.
{certbot}# Then tell Chatlink to believe nginx about visitors' addresses:
#   chatlink limits set trusted_proxies 127.0.0.1/32
server {{
    listen 80;
    server_name {host};
    # A chat message is small; a hook's body is at most 1 MiB.
    client_max_body_size 2m;

    location / {{
        proxy_pass http://127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Connection \"\";
        # Streamed replies: pass every word on at once, and keep quiet streams open.
        proxy_buffering off;
        proxy_cache off;
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
    }}
}}
"
    )
}

fn caddy(url: &str, host: &str, port: u16, tls: bool) -> String {
    // Caddy gets and renews the certificate itself for an https site address.
    let site = if tls {
        host.to_owned()
    } else {
        format!("http://{host}")
    };
    format!(
        "# Chatlink behind Caddy: {url} -> http://127.0.0.1:{port}
# Add this to your Caddyfile, then run `caddy reload`. Caddy fetches the certificate itself.
# Then tell Chatlink to believe Caddy about visitors' addresses:
#   chatlink limits set trusted_proxies 127.0.0.1/32
{site} {{
    reverse_proxy 127.0.0.1:{port} {{
        # Streamed replies: pass every word on at once.
        flush_interval -1
    }}
}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_the_host_and_port_and_never_buffer() {
        let nginx =
            proxy_config(ProxyServer::Nginx, "https://Chat.Example.com/", 8640).expect("nginx");
        for needed in [
            "server_name chat.example.com;",
            "proxy_pass http://127.0.0.1:8640;",
            "proxy_buffering off;",
            "proxy_read_timeout 1h;",
            "certbot --nginx -d chat.example.com",
        ] {
            assert!(nginx.contains(needed), "{needed} in {nginx}");
        }
        let caddy =
            proxy_config(ProxyServer::Caddy, "https://chat.example.com", 9000).expect("caddy");
        assert!(
            caddy.contains("chat.example.com {")
                && caddy.contains("reverse_proxy 127.0.0.1:9000")
                && caddy.contains("flush_interval -1"),
            "{caddy}"
        );
        let plain = proxy_config(ProxyServer::Caddy, "http://shop.example", 8640).expect("http");
        assert!(plain.contains("http://shop.example {"), "{plain}");
        assert!(proxy_config(ProxyServer::Nginx, "https://example.com/chat", 8640).is_err());
        assert!(proxy_config(ProxyServer::Nginx, "not a url", 8640).is_err());
        assert!(ProxyServer::parse("apache").is_err());
    }
}
