//! Integration tests of the real `chatlink` binary: tokens, bad arguments, agents, QR codes
//! and `serve`, each on a fresh data folder with `--secrets file`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const DEFAULT_BASE: &str = "http://127.0.0.1:8640";

#[test]
fn cli_token_issue_list_show_revoke_reissue() {
    let data = Data::new();
    let flyer_out = data.ok(&[
        "token",
        "issue",
        "demo",
        "chat",
        "--suffix",
        "flyer",
        "--label",
        "Counter flyer",
        "--expires",
        "30d",
    ]);
    let flyer_url = one_line(&flyer_out).to_owned();
    chat_token(&flyer_url, DEFAULT_BASE);

    let links = data.links();
    assert_eq!(links.len(), 2, "the demo link and the flyer: {links:?}");
    for l in &links {
        assert_eq!(l["status"], "live", "{l}");
        assert!(l.get("url").is_none(), "token list never shows URLs: {l}");
    }
    assert_eq!(link(&links, "web:demo")["folder"], "demo");
    let flyer = link(&links, "web:demo/flyer");
    assert_eq!(flyer["label"], "Counter flyer");
    assert_eq!(flyer["suffix"], "flyer");
    assert_eq!(flyer["kind"], "web");
    assert!(
        flyer["expires_at"].is_string(),
        "30d sets an expiry: {flyer}"
    );
    let flyer_id = flyer["id"].as_i64().expect("link id");

    let shown = data.show("web:demo/flyer");
    assert_eq!(shown.len(), 1);
    assert_eq!(
        shown[0]["url"],
        flyer_url.as_str(),
        "show gives the URL again"
    );
    assert_eq!(shown[0]["status"], "live");
    // The table form shows it too.
    assert!(
        data.ok(&["token", "show", "web:demo/flyer"])
            .contains(&flyer_url)
    );

    let hook_url = data.ok(&["token", "issue", "demo", "hook", "github"]);
    let hook_url = one_line(&hook_url);
    let hook_token = hook_url
        .strip_prefix(&format!("{DEFAULT_BASE}/hook/"))
        .unwrap_or_else(|| panic!("{hook_url:?} is not a /hook/ URL"));
    assert_eq!(hook_token.len(), 43, "{hook_url}");
    assert_eq!(
        data.show("hook:demo/github")[0]["url"],
        hook_url,
        "the hook is on hook:demo/github"
    );

    // Revoke by JID: the link stays listed, revoked, without its URL.
    let revoked = data.ok(&["token", "revoke", "web:demo/flyer"]);
    assert!(
        revoked.contains(&format!("revoked link {flyer_id} on web:demo/flyer")),
        "{revoked}"
    );
    let shown = data.show("web:demo/flyer");
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["status"], "revoked");
    assert!(shown[0]["revoked_at"].is_string());
    assert!(shown[0].get("url").is_none(), "a revoked link has no URL");
    // Revoking again finds nothing live.
    assert!(
        data.ok(&["token", "revoke", "web:demo/flyer"])
            .contains("nothing to revoke")
    );

    // Revoke by id.
    let hook_id = link(&data.links(), "hook:demo/github")["id"]
        .as_i64()
        .expect("hook id");
    let revoked = data.json(&["token", "revoke", "--id", &hook_id.to_string()]);
    assert_eq!(array(revoked)[0]["status"], "revoked");
    assert_eq!(link(&data.links(), "hook:demo/github")["status"], "revoked");

    // Reissue: a new URL on the same JID, with the same label; the old link is revoked.
    let demo_id = link(&data.links(), "web:demo")["id"]
        .as_i64()
        .expect("demo id");
    let old_demo_url = data.url_of("web:demo");
    let new_demo_url = data.ok(&["token", "reissue", &demo_id.to_string()]);
    let new_demo_url = one_line(&new_demo_url);
    chat_token(new_demo_url, DEFAULT_BASE);
    assert_ne!(new_demo_url, old_demo_url);
    let shown = data.show("web:demo");
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_eq!(shown[0]["id"], demo_id);
    assert_eq!(shown[0]["status"], "revoked");
    assert_eq!(shown[1]["status"], "live");
    assert_eq!(shown[1]["url"], new_demo_url);
    assert_eq!(shown[1]["label"], shown[0]["label"]);

    // Unknown JIDs and ids fail clearly and change nothing.
    let before = data.links();
    let err = data.fail(&["token", "revoke", "web:demo/nope"]);
    assert!(err.contains("link not found"), "{err}");
    let err = data.fail(&["token", "revoke", "--id", "9999"]);
    assert!(err.contains("link not found"), "{err}");
    let err = data.fail(&["token", "reissue", "9999"]);
    assert!(err.contains("link not found"), "{err}");
    let err = data.fail(&["token", "show", "web:nobody"]);
    assert!(err.contains("link not found"), "{err}");
    assert_eq!(data.links(), before);
}

#[test]
fn cli_json_errors_carry_a_code() {
    let data = Data::new();
    let out = data.run(&["token", "revoke", "web:demo/nope", "--json"]);
    assert!(!out.status.success());
    let err: Value = serde_json::from_slice(&out.stderr).expect("a JSON error on stderr");
    assert_eq!(err["code"], "not_found");
    assert_eq!(err["message"], "link not found");
}

#[test]
fn cli_bad_arguments_fail_clearly_and_write_nothing() {
    let data = Data::new();
    let before = data.links();
    assert_eq!(before.len(), 1, "the demo link");

    let cases: &[(&[&str], &str)] = &[
        (&["token", "issue", "Bad Folder", "chat"], "\"Bad Folder\""),
        (&["token", "issue", "nope", "chat"], "agent not found"),
        (
            &["token", "issue", "demo", "chat", "--expires", "yesterday"],
            "--expires \"yesterday\"",
        ),
        (
            &[
                "token",
                "issue",
                "demo",
                "chat",
                "--expires",
                "2000-01-01T00:00:00Z",
            ],
            "the expiry must be in the future",
        ),
        (
            &["token", "issue", "demo", "chat", "--suffix", "a/b"],
            "suffix \"a/b\" is not valid",
        ),
        (
            &["token", "issue", "demo", "hook", "Git Hub"],
            "source \"Git Hub\" is not valid",
        ),
        (&["token", "show", "demo"], "is not a JID"),
        (
            &["token", "show", "web:Demo"],
            "folder \"Demo\" is not valid",
        ),
        (&["token", "revoke", "mail:demo"], "is not a JID"),
    ];
    for (args, wanted) in cases {
        let err = data.fail(args);
        assert!(
            err.contains(wanted),
            "chatlink {args:?}: expected {wanted:?} in {err:?}"
        );
        assert_eq!(data.links(), before, "chatlink {args:?} changed the links");
    }

    let label = "x".repeat(81);
    let err = data.fail(&["token", "issue", "demo", "chat", "--label", &label]);
    assert!(err.contains("at most 80 characters"), "{err}");

    let args = ["token", "list"];
    let err = fail_output(&args, run(data.command_with_secrets("nope", &args), None));
    assert!(
        err.contains("unknown secret store \"nope\"") && err.contains("keyring or file"),
        "{err}"
    );

    // The folder was made with the file store; the keyring does not hold its master key.
    let err = fail_output(
        &args,
        run(data.command_with_secrets("keyring", &args), None),
    );
    assert!(err.contains("--secrets file"), "{err}");

    // The memory store would forget the master key at exit and strand every link.
    let err = fail_output(&args, run(data.command_with_secrets("memory", &args), None));
    assert!(err.contains("`keyring` or `file`"), "{err}");

    // Links built on 0.0.0.0 would reach nobody: an open bind needs the public address.
    let err = data.fail(&["serve", "--bind", "0.0.0.0:0"]);
    assert!(err.contains("--public-url"), "{err}");

    // Missing arguments are clap's business: exit code 2 and a usage message.
    let out = data.run(&["token", "revoke"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<JID>"));

    assert_eq!(data.links(), before, "nothing was half-written");
}

#[test]
fn cli_agents_engines_api_keys_and_knowledge() {
    let data = Data::new();
    let created = data.json(&[
        "agent",
        "create",
        "acme",
        "--name",
        "Acme Tools",
        "--greeting",
        "Hi!",
    ]);
    assert_eq!(created["slug"], "acme");
    assert_eq!(created["name"], "Acme Tools");
    assert_eq!(created["greeting"], "Hi!");
    assert_eq!(created["engine"]["kind"], "answers");
    assert_eq!(created["knowledge_count"], 0);

    let err = data.fail(&["agent", "create", "acme"]);
    assert!(err.contains("already exists"), "{err}");
    let err = data.fail(&["agent", "create", "Acme!"]);
    assert!(err.contains("agent slug \"Acme!\" is not valid"), "{err}");

    let agents = array(data.json(&["agent", "list"]));
    let slugs: Vec<&str> = agents
        .iter()
        .map(|a| a["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(slugs.len(), 2, "{agents:?}");
    assert!(
        slugs.contains(&"demo") && slugs.contains(&"acme"),
        "{slugs:?}"
    );
    let demo = agents
        .iter()
        .find(|a| a["slug"] == "demo")
        .expect("the demo agent");
    assert_eq!(demo["name"], "Rosie's Bakery");
    assert!(demo["knowledge_count"].as_i64().expect("count") >= 5);

    let shown = data.json(&["agent", "show", "acme"]);
    assert_eq!(shown["name"], "Acme Tools");
    let err = data.fail(&["agent", "show", "nobody"]);
    assert!(err.contains("agent not found"), "{err}");

    let edited = data.json(&[
        "agent",
        "edit",
        "acme",
        "--engine",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
    ]);
    assert_eq!(edited["engine"]["kind"], "openai");
    assert_eq!(edited["engine"]["base_url"], "http://127.0.0.1:9/v1");
    assert_eq!(edited["engine"]["model"], "m");
    assert_eq!(edited["engine"]["api_key_set"], false);
    let err = data.fail(&[
        "agent", "edit", "acme", "--engine", "openai", "--model", "m",
    ]);
    assert!(err.contains("--base-url"), "{err}");
    let err = data.fail(&["agent", "edit", "acme", "--engine", "magic"]);
    assert!(err.contains("unknown engine \"magic\""), "{err}");
    let err = data.fail(&[
        "agent",
        "edit",
        "acme",
        "--engine",
        "openai",
        "--base-url",
        "file:///etc",
        "--model",
        "m",
    ]);
    assert!(err.contains("http://"), "{err}");
    assert_eq!(
        data.json(&["agent", "show", "acme"])["engine"],
        edited["engine"],
        "a failed edit changes nothing"
    );

    // The API key goes in on stdin and never comes back out.
    const KEY: &str = "sk-test-9f8e7d6c5b4a39281706";
    let args = ["agent", "api-key", "acme"];
    let out = run(data.command(&args), Some(format!("{KEY}\n").as_bytes()));
    assert!(
        out.status.success(),
        "api-key failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut printed = out.stdout.clone();
    printed.extend(&out.stderr);
    let shown_args = ["agent", "show", "acme", "--json"];
    let shown_out = data.run(&shown_args);
    assert!(shown_out.status.success());
    let shown: Value = serde_json::from_slice(&shown_out.stdout).expect("agent JSON");
    assert_eq!(shown["engine"]["api_key_set"], true);
    printed.extend(&shown_out.stdout);
    printed.extend(&shown_out.stderr);
    printed.extend(data.ok(&["agent", "show", "acme"]).bytes());
    printed.extend(data.ok(&["agent", "list", "--json"]).bytes());
    let printed = String::from_utf8(printed).expect("UTF-8 output");
    assert!(
        printed.contains("API key set"),
        "the table says the key is set: {printed}"
    );
    assert!(!printed.contains(KEY), "the API key was printed: {printed}");
    let db = data.database_bytes();
    assert!(
        !db.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
        "the API key is in the database file"
    );
    // An empty key is refused, and --clear forgets the key.
    let out = run(data.command(&args), Some(b"\n"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("API key"));
    let cleared = data.json(&["agent", "api-key", "acme", "--clear"]);
    assert_eq!(cleared["engine"]["api_key_set"], false);

    // Semantic matching: an embeddings server and model, its own key on stdin, and off again.
    let set = data.json(&[
        "agent",
        "embeddings",
        "acme",
        "--base-url",
        "http://127.0.0.1:9/v1/",
        "--model",
        "nomic-embed-text",
    ]);
    assert_eq!(set["embeddings"]["base_url"], "http://127.0.0.1:9/v1");
    assert_eq!(set["embeddings"]["model"], "nomic-embed-text");
    assert_eq!(set["embeddings"]["api_key_set"], false);
    const EMBED_KEY: &str = "sk-embed-0a1b2c3d4e5f";
    let out = run(
        data.command(&["agent", "embeddings-key", "acme"]),
        Some(format!("{EMBED_KEY}\n").as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = data.ok(&["agent", "show", "acme"]);
    assert!(
        shown.contains("meaning:      nomic-embed-text at http://127.0.0.1:9/v1, API key set"),
        "{shown}"
    );
    assert!(!shown.contains(EMBED_KEY));
    let db = data.database_bytes();
    assert!(
        !db.windows(EMBED_KEY.len())
            .any(|w| w == EMBED_KEY.as_bytes())
    );
    let err = data.fail(&[
        "agent",
        "embeddings",
        "acme",
        "--base-url",
        "file:///etc",
        "--model",
        "m",
    ]);
    assert!(err.contains("http://"), "{err}");
    assert_eq!(
        data.json(&["agent", "show", "acme"])["embeddings"]["base_url"],
        "http://127.0.0.1:9/v1",
        "a refused setting changes nothing"
    );
    let usage = data.run(&["agent", "embeddings", "acme", "--model", "m"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--base-url"));
    let off = data.json(&["agent", "embeddings", "acme", "--off"]);
    assert_eq!(off["embeddings"], Value::Null);

    // Knowledge: add, list, remove.
    let added = array(data.json(&[
        "agent",
        "knowledge",
        "add",
        "acme",
        "--question",
        "Do you sell hammers?",
        "--answer",
        "Yes, twelve kinds.",
    ]));
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["question"], "Do you sell hammers?");
    let hammer_id = added[0]["id"].as_i64().expect("entry id");
    let free = array(data.json(&[
        "agent",
        "knowledge",
        "add",
        "acme",
        "--answer",
        "Founded in 1950.",
    ]));
    assert!(free[0]["question"].is_null(), "free text: {free:?}");
    let listed = array(data.json(&["agent", "knowledge", "list", "acme"]));
    assert_eq!(listed.len(), 2);
    let table = data.ok(&["agent", "knowledge", "list", "acme"]);
    assert!(table.contains("Q: Do you sell hammers?") && table.contains("Founded in 1950."));
    let removed = data.ok(&[
        "agent",
        "knowledge",
        "remove",
        "acme",
        &hammer_id.to_string(),
    ]);
    assert_eq!(removed.trim(), format!("entry {hammer_id} removed"));
    let err = data.fail(&[
        "agent",
        "knowledge",
        "remove",
        "acme",
        &hammer_id.to_string(),
    ]);
    assert!(err.contains("knowledge entry not found"), "{err}");
    let err = data.fail(&["agent", "knowledge", "add", "acme", "--answer", "  "]);
    assert!(err.contains("the answer is empty"), "{err}");
    let count = |data: &Data| array(data.json(&["agent", "knowledge", "list", "acme"])).len();
    assert_eq!(count(&data), 1);

    // Import Markdown: headings are questions, loose paragraphs free text.
    let md = data.write(
        "faq.md",
        "We sell tools.\n\n## When are you open?\n\n9 to 5.\n\n## Do you deliver?\nYes, by van.\n",
    );
    let md = md.to_str().expect("UTF-8 path");
    let out = data.ok(&["agent", "knowledge", "import", "acme", md]);
    assert_eq!(out.trim(), "imported 3 entries into acme");
    assert_eq!(count(&data), 4);

    let csv = data.write(
        "faq.csv",
        "question,answer\n\"Hours, please?\",\"9 to 5, \"\"sharp\"\"\"\nParking?,Behind the shop.\n",
    );
    let out = data.ok(&[
        "agent",
        "knowledge",
        "import",
        "acme",
        csv.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(out.trim(), "imported 2 entries into acme");
    let listed = array(data.json(&["agent", "knowledge", "list", "acme"]));
    assert_eq!(listed.len(), 6);
    assert!(
        listed
            .iter()
            .any(|k| k["question"] == "Hours, please?" && k["answer"] == "9 to 5, \"sharp\""),
        "{listed:?}"
    );
    assert_eq!(data.json(&["agent", "show", "acme"])["knowledge_count"], 6);

    // A bad CSV names its line and imports nothing, not even its good rows.
    let bad = data.write("bad.csv", "question,answer\nGood?,Fine.\nOne,two,three\n");
    let err = data.fail(&[
        "agent",
        "knowledge",
        "import",
        "acme",
        bad.to_str().expect("UTF-8 path"),
    ]);
    assert!(
        err.contains("line 3") && err.contains("expected 2 columns"),
        "{err}"
    );
    assert_eq!(count(&data), 6);

    let pdf = data.write("faq.pdf", "# Q\nA\n");
    let err = data.fail(&[
        "agent",
        "knowledge",
        "import",
        "acme",
        pdf.to_str().expect("UTF-8 path"),
    ]);
    assert!(
        err.contains("cannot tell the format") && err.contains(".csv"),
        "{err}"
    );
    let missing = data.path().join("missing.md");
    let err = data.fail(&[
        "agent",
        "knowledge",
        "import",
        "acme",
        missing.to_str().expect("UTF-8 path"),
    ]);
    assert!(err.contains("cannot read"), "{err}");
    assert_eq!(count(&data), 6);
}

#[test]
fn cli_qr_codes_carry_the_link() {
    let data = Data::new();
    let png_path = data.path().join("a.png");
    let svg_path = data.path().join("a.svg");
    let png_arg = png_path.to_str().expect("UTF-8 path");
    let svg_arg = svg_path.to_str().expect("UTF-8 path");
    let url = data.url_of("web:demo");

    let out = data.ok(&["qr", "web:demo", "--png", png_arg, "--svg", svg_arg]);
    assert!(
        out.contains(&format!("QR code for {url} saved to {png_arg}")),
        "{out}"
    );
    assert!(out.contains(&format!("saved to {svg_arg}")), "{out}");
    let png_bytes = std::fs::read(&png_path).expect("the PNG was written");
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(chatlink_test_support::decode_qr_png(&png_bytes), url);
    let svg = std::fs::read_to_string(&svg_path).expect("the SVG was written");
    assert!(
        svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );

    // Any http(s) URL works too.
    let other = data.path().join("site.png");
    data.ok(&[
        "qr",
        "https://example.com/menu",
        "--png",
        other.to_str().expect("UTF-8 path"),
        "--scale",
        "4",
    ]);
    assert_eq!(
        chatlink_test_support::decode_qr_png(&std::fs::read(&other).expect("PNG")),
        "https://example.com/menu"
    );

    // A bad scale writes neither file.
    let b_png = data.path().join("b.png");
    let b_svg = data.path().join("b.svg");
    let err = data.fail(&[
        "qr",
        "web:demo",
        "--png",
        b_png.to_str().expect("UTF-8 path"),
        "--svg",
        b_svg.to_str().expect("UTF-8 path"),
        "--scale",
        "0",
    ]);
    assert!(err.contains("scale"), "{err}");
    assert!(
        !b_png.exists() && !b_svg.exists(),
        "a failed qr wrote a file"
    );

    let err = data.fail(&["qr", "web:demo"]);
    assert!(
        err.contains("--png FILE") && err.contains("--svg FILE"),
        "{err}"
    );

    let err = data.fail(&[
        "qr",
        "ftp://example.com",
        "--png",
        b_png.to_str().expect("path"),
    ]);
    assert!(err.contains("not an http(s) URL"), "{err}");

    // A JID whose links are all revoked has no QR code.
    data.ok(&["token", "revoke", "web:demo"]);
    let err = data.fail(&["qr", "web:demo", "--png", b_png.to_str().expect("path")]);
    assert!(err.contains("has no live link"), "{err}");
    assert!(!b_png.exists());
    // Nothing but the files asked for was left behind (no temporary files).
    let mut names: Vec<String> = std::fs::read_dir(data.path())
        .expect("list the data folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png") || n.ends_with(".svg") || n.contains(".tmp"))
        .collect();
    names.sort();
    assert_eq!(names, ["a.png", "a.svg", "site.png"]);
}

#[tokio::test]
async fn cli_serve_answers_chats_and_stops_on_sigterm() {
    let data = Data::new();
    let mut server = Server::start(&data);
    let base = server.line_after("Chatlink is serving on ");
    let port: u16 = base
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{base:?} is not http://127.0.0.1:PORT"));
    assert_ne!(port, 0);
    let demo_url = server.line_after("Demo chat link: ");
    let token = chat_token(&demo_url, &base).to_owned();
    // Links are now built from the server's address, in every process.
    assert_eq!(data.url_of("web:demo"), demo_url);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let page = http.get(&demo_url).send().await.expect("GET the chat page");
    assert_eq!(page.status(), 200);
    let ctype = page
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let html = page.text().await.expect("page body");
    assert!(html.contains("Rosie"), "the page names the agent");

    let posted = http
        .post(&demo_url)
        .json(&serde_json::json!({"content": "When are you open?"}))
        .send()
        .await
        .expect("POST a message");
    assert_eq!(posted.status(), 202);
    let posted: Value = posted.json().await.expect("the posted message as JSON");
    let conversation = posted["conversation_id"]
        .as_str()
        .expect("conversation_id")
        .to_owned();
    assert!(posted["turn_id"].is_string(), "{posted}");

    // The built-in answers engine replies from the demo's knowledge.
    let history_url = format!("{base}/chat/{token}/history?conversation_id={conversation}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let reply = loop {
        let history: Value = http
            .get(&history_url)
            .send()
            .await
            .expect("GET history")
            .json()
            .await
            .expect("history JSON");
        let messages = history["messages"].as_array().cloned().unwrap_or_default();
        if history["running_turn_id"].is_null()
            && let Some(reply) = messages.iter().find(|m| m["role"] == "assistant")
        {
            assert_eq!(messages[0]["role"], "user");
            assert_eq!(messages[0]["content"], "When are you open?");
            break reply["content"].as_str().expect("reply text").to_owned();
        }
        assert!(Instant::now() < deadline, "no reply: {history}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reply.contains("7am"), "the reply gives the hours: {reply}");

    // A revoked link answers 401 at once, even though another process revoked it.
    data.ok(&["token", "revoke", "web:demo"]);
    let gone = http
        .get(&demo_url)
        .send()
        .await
        .expect("GET a revoked link");
    assert_eq!(gone.status(), 401);

    server.terminate();
    let status = server.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "serve exited with {status}");
}

/// The status code of `GET <base><path>`, over a plain blocking TCP connection.
fn http_status(base: &str, path: &str) -> u16 {
    let addr = base.strip_prefix("http://").expect("an http:// base URL");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut status_line = String::new();
    BufReader::new(stream)
        .read_line(&mut status_line)
        .expect("read the status line");
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"))
}

#[test]
fn cli_second_server_on_the_same_folder_is_refused() {
    let data = Data::new();
    let mut first = Server::start(&data);
    let base = first.line_after("Chatlink is serving on ");
    let demo_url = first.line_after("Demo chat link: ");
    let token = chat_token(&demo_url, &base).to_owned();

    let err = data.fail(&["serve", "--bind", "127.0.0.1:0"]);
    assert!(
        err.contains("another chatlink server is already running on")
            && err.contains(&data.path().display().to_string()),
        "{err}"
    );
    // The first server is unharmed and still serving.
    assert!(first.child.try_wait().expect("poll serve").is_none());
    assert_eq!(http_status(&base, "/healthz"), 200);
    assert_eq!(http_status(&base, &format!("/chat/{token}/")), 200);

    first.terminate();
    let status = first.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "serve exited with {status}");
}

/// A refused second `serve` must not change the origin links are built from: until the
/// first server stops, `token issue`/`token show` should keep printing URLs on its port.
#[test]
fn cli_refused_second_server_leaves_link_urls_alone() {
    let data = Data::new();
    let mut first = Server::start(&data);
    let base = first.line_after("Chatlink is serving on ");
    let demo_url = first.line_after("Demo chat link: ");
    assert_eq!(data.url_of("web:demo"), demo_url);

    data.fail(&["serve", "--bind", "127.0.0.1:0"]);
    let url = data.url_of("web:demo");
    assert_eq!(
        url, demo_url,
        "the links now point at a server that was never started (first server: {base})"
    );
    let issued = data.ok(&["token", "issue", "demo", "chat", "--suffix", "after"]);
    chat_token(one_line(&issued), &base);

    first.terminate();
    assert!(first.wait_for_exit(Duration::from_secs(10)).success());
}

#[tokio::test]
async fn cli_public_url_folder_filter_and_route_rules() {
    let data = Data::new();
    data.ok(&[
        "agent",
        "create",
        "acme",
        "--name",
        "Acme Tools",
        "--greeting",
        "Hello from Acme.",
    ]);
    data.ok(&["token", "issue", "acme", "chat", "--suffix", "sales"]);
    data.ok(&[
        "agent",
        "rule",
        "web:acme/sales",
        "--greeting",
        "Looking to buy? Ask me about prices.",
    ]);

    let folders = |folder: &str| -> Vec<String> {
        array(data.json(&["token", "list", "--folder", folder]))
            .iter()
            .map(|l| l["jid"].as_str().expect("jid").to_owned())
            .collect()
    };
    assert_eq!(folders("acme"), ["web:acme/sales"]);
    assert_eq!(folders("demo"), ["web:demo"]);

    let mut server = Server::start_with(&data, &["--public-url", "https://chat.example.com/"]);
    let local = server.line_after("Chatlink is serving on ");
    let demo = server.line_after("Demo chat link: ");
    chat_token(&demo, "https://chat.example.com");
    let sales = data.url_of("web:acme/sales");
    let token = chat_token(&sales, "https://chat.example.com").to_owned();

    // The page is served locally; the suffix's rule replaces the agent's greeting.
    let html = reqwest::get(format!("{local}/chat/{token}/"))
        .await
        .expect("GET the sales page")
        .text()
        .await
        .expect("page body");
    assert!(
        html.contains("Looking to buy? Ask me about prices."),
        "the rule's greeting"
    );
    assert!(
        !html.contains("Hello from Acme."),
        "not the agent's own greeting"
    );

    server.terminate();
    assert!(server.wait_for_exit(Duration::from_secs(10)).success());
}

/// Reads a whole SSE response (until the server ends it) as `(event, data)` pairs.
async fn read_frames(res: reqwest::Response) -> Vec<(String, String)> {
    let mut res = res;
    let mut text = String::new();
    while let Some(chunk) = res.chunk().await.expect("read the stream") {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            };
            Some((field("event:")?, field("data:").unwrap_or_default()))
        })
        .collect()
}

/// A 202 is a promise: SIGKILL the server while visitors post, restart it, and every accepted
/// message is in its conversation and every turn ends with `done` (interrupted ones as `error`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sigkill_keeps_every_accepted_message_and_ends_every_turn() {
    // A provider that accepts connections and never answers: its turns are running at the kill.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the silent provider");
    let silent_url = format!("http://{}/v1", silent.local_addr().expect("address"));
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().flatten() {
            held.push(conn);
        }
    });
    let data = Data::new();
    data.provider_agent("slow", &silent_url);

    let mut server = Server::start_with(&data, &["--no-rate-limits"]);
    let base = server.line_after("Chatlink is serving on ");
    let links = [data.url_of("web:demo"), data.url_of("web:slow")];
    let http = reqwest::Client::new();

    // Twelve visitors post as fast as they can; each keeps what got a 202.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut visitors = Vec::new();
    for v in 0..12 {
        let (http, stop) = (http.clone(), stop.clone());
        let link = links[usize::from(v % 4 == 3)].clone();
        visitors.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                // A new conversation each time: one turn at a time per conversation.
                let body = serde_json::json!({"content": format!("visitor {v} message {n}: when are you open?")});
                let Ok(res) = http.post(&link).json(&body).send().await else { break };
                if res.status() != 202 {
                    continue;
                }
                let Ok(posted) = res.json::<Value>().await else { break };
                accepted.push((link.clone(), posted));
            }
            accepted
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    Command::new("kill")
        .args(["-KILL", &server.child.id().to_string()])
        .status()
        .expect("kill -KILL");
    let _ = server.wait_for_exit(Duration::from_secs(10));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut accepted = Vec::new();
    for v in visitors {
        accepted.extend(v.await.expect("visitor task"));
    }
    let slow_accepted = accepted.iter().filter(|(l, _)| *l == links[1]).count();
    assert!(
        accepted.len() >= 12 && slow_accepted >= 1,
        "too few 202s to test: {}",
        accepted.len()
    );

    // Thousands of history reads from one address: past the per-address read rate otherwise.
    let mut again = Server::start_with(&data, &["--no-rate-limits"]);
    let new_base = again.line_after("Chatlink is serving on ");
    let (mut ok, mut errors) = (0, 0);
    for (link, posted) in &accepted {
        let link = link.replace(&base, &new_base);
        let conversation = posted["conversation_id"].as_str().expect("conversation_id");
        let history: Value = http
            .get(format!("{link}history?conversation_id={conversation}"))
            .send()
            .await
            .expect("GET history")
            .json()
            .await
            .expect("history JSON");
        let ids: Vec<&str> = history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert!(
            ids.contains(&posted["message_id"].as_str().expect("message_id")),
            "{posted} lost: {history}"
        );

        let turn = posted["turn_id"].as_str().expect("turn_id");
        let res = tokio::time::timeout(Duration::from_secs(10), async {
            read_frames(
                http.get(format!("{link}{turn}/sse"))
                    .send()
                    .await
                    .expect("GET sse"),
            )
            .await
        })
        .await
        .expect("the turn's stream ends instead of hanging");
        let (event, data) = res.last().expect("at least one frame");
        assert_eq!(event, "done", "{res:?}");
        let status: Value = serde_json::from_str(data).expect("done JSON");
        match status["status"].as_str() {
            Some("ok" | "handoff") => ok += 1,
            Some("error") => errors += 1,
            other => panic!("unexpected status {other:?}"),
        }
    }
    eprintln!(
        "{} accepted before SIGKILL: {ok} finished, {errors} ended as error after restart",
        accepted.len()
    );
    assert!(
        errors >= slow_accepted,
        "the silent agent's turns were interrupted and end as error"
    );
    again.terminate();
    assert!(again.wait_for_exit(Duration::from_secs(10)).success());
}

/// `serve` lifts its soft open-files limit to the hard one, so a busy link is not capped at a
/// few hundred visitors by a 1,024 default.
#[test]
fn cli_serve_raises_its_open_files_limit() {
    let data = Data::new();
    let inner = data.command(&["serve", "--bind", "127.0.0.1:0"]);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -Sn 256 && exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args())
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let mut server = Server::spawn(cmd);
    server.line_after("Chatlink is serving on ");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id()))
        .expect("read /proc/<pid>/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-files line");
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert_ne!(numbers[0], "256", "the soft limit was raised: {line}");
    assert_eq!(numbers[0], numbers[1], "soft = hard: {line}");
    server.terminate();
    assert!(server.wait_for_exit(Duration::from_secs(10)).success());
}

/// Status line, headers and body of an answer, as one text to search.
async fn whole_answer(res: reqwest::Response) -> String {
    let mut text = format!("{:?}\n", res.status());
    for (k, v) in res.headers() {
        text.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("")));
    }
    text + &res.text().await.unwrap_or_default()
}

#[tokio::test]
async fn cli_widget_apps_and_the_secret_appears_only_where_the_owner_asks() {
    let data = Data::new();
    let created = data.json(&["app", "create", "demo", "--origin", "https://Shop.example/"]);
    let app_id = created["app"]["id"].as_str().expect("appId").to_owned();
    let secret = created["appSecret"].as_str().expect("appSecret").to_owned();
    assert_eq!(
        created["app"]["origins"],
        serde_json::json!(["https://shop.example"])
    );
    assert_eq!(created["app"]["token_ttl_secs"], 900);
    assert_eq!(secret.len(), 43, "32 bytes, base64url");
    assert_eq!(one_line(&data.ok(&["app", "reveal", &app_id])), secret);
    let open = data.run(&[
        "app",
        "create",
        "demo",
        "--name",
        "Blog",
        "--token-ttl",
        "90s",
    ]);
    assert!(open.status.success());
    let stdout = String::from_utf8_lossy(&open.stdout);
    assert!(
        stdout.contains("appId:") && stdout.contains("appSecret:"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&open.stderr).contains("any website"),
        "the CLI says what an empty origin list means"
    );
    for bad in [
        vec!["app", "create", "nope"],
        vec!["app", "create", "demo", "--origin", "shop.example"],
        vec!["app", "create", "demo", "--token-ttl", "2s"],
        vec!["app", "reveal", "app_000000000000000000000000"],
    ] {
        data.fail(&bad);
    }
    assert_eq!(
        array(data.json(&["app", "list"])).len(),
        2,
        "bad input created nothing"
    );

    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut cmd = data.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("CHATLINK_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut child = cmd.spawn().expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut server = Server::from_child(child, stdout);
    let base = server.line_after("Chatlink is serving on ");
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    let exchange = |secret: String, user: serde_json::Value| {
        http.post(format!("{base}/api/v1/auth/token"))
            .json(&serde_json::json!({"appId": app_id, "appSecret": secret, "endUserId": user}))
            .send()
    };
    let res = exchange(secret.clone(), "alice".into())
        .await
        .expect("exchange");
    let v: Value = res.json().await.expect("json");
    let jwt = v["token"].as_str().expect("token").to_owned();
    answers.push(v.to_string());
    for (s, user) in [
        (format!("{secret}x"), serde_json::json!("alice")),
        (secret.clone(), serde_json::json!("")),
        (secret.clone(), serde_json::json!(7)),
    ] {
        answers.push(whole_answer(exchange(s, user).await.expect("bad exchange")).await);
    }
    let raw = http
        .post(format!("{base}/api/v1/auth/token"))
        .body(format!("{{\"appSecret\": {secret}}}"))
        .send()
        .await
        .expect("broken JSON");
    answers.push(whole_answer(raw).await);
    let api = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}/api/v1/chat/{path}"))
            .bearer_auth(&jwt)
            .header("origin", "https://shop.example")
    };
    let posted = api(reqwest::Method::POST, "messages")
        .json(&serde_json::json!({"content": "When are you open?"}))
        .send()
        .await
        .expect("post");
    let posted: Value = posted.json().await.expect("posted");
    answers.push(posted.to_string());
    let turn = posted["turnId"].as_str().expect("turnId");
    let events = api(reqwest::Method::GET, &format!("turns/{turn}/events"))
        .send()
        .await
        .expect("events");
    answers.push(whole_answer(events).await);
    answers.push(
        whole_answer(
            api(reqwest::Method::GET, "history")
                .send()
                .await
                .expect("h"),
        )
        .await,
    );
    assert!(
        answers.iter().any(|a| a.contains("event: done")),
        "{answers:?}"
    );

    // Rotation from another process: the old secret stops working at once.
    let rotated = data.json(&["app", "rotate-secret", &app_id]);
    let new_secret = rotated["appSecret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    let old = exchange(secret.clone(), "alice".into())
        .await
        .expect("old secret");
    assert_eq!(old.status().as_u16(), 401);
    answers.push(whole_answer(old).await);
    let listed = data.ok(&["app", "list", "--json"]);
    let revoked = data.ok(&["app", "revoke", &app_id]);
    assert!(revoked.contains("revoked"), "{revoked}");
    let after = exchange(new_secret.clone(), "alice".into())
        .await
        .expect("revoked app");
    assert_eq!(after.status().as_u16(), 401);
    answers.push(whole_answer(after).await);
    server.terminate();
    assert!(server.wait_for_exit(Duration::from_secs(15)).success());

    let log = std::fs::read_to_string(&log_path).expect("read the log");
    assert!(
        log.contains("/api/v1/auth/token"),
        "the log recorded the requests, so the check below means something"
    );
    let db = String::from_utf8_lossy(&data.database_bytes()).into_owned();
    assert!(db.contains(&app_id), "the database holds the app");
    for s in [&secret, &new_secret] {
        assert!(!db.contains(s.as_str()), "an appSecret is in the database");
        assert!(
            !log.contains(s.as_str()),
            "an appSecret is in the server log"
        );
        assert!(
            !listed.contains(s.as_str()),
            "an appSecret is in `app list`"
        );
        for a in &answers {
            assert!(
                !a.contains(s.as_str()),
                "an appSecret is in an HTTP answer: {a}"
            );
        }
    }
}

/// The owner's inbox from the CLI while `serve` runs in another process: a visitor's handoff is
/// listed, a reply from the CLI reaches the visitor's open conversation stream, and the
/// conversation exports, changes hands and is kept or deleted as the retention says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_inbox_reply_export_and_retention_beside_a_running_server() {
    let data = Data::new();
    let mut server = Server::start(&data);
    let local = server.line_after("Chatlink is serving on ");
    let demo = server.line_after("Demo chat link: ");
    let token = chat_token(&demo, &local).to_owned();
    let client = reqwest::Client::new();
    let posted: Value = client
        .post(format!("{local}/chat/{token}/"))
        .json(&serde_json::json!({"content": "can you fix my bicycle?"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let turn = posted["turn_id"].as_str().expect("turn");
    let conv = posted["conversation_id"]
        .as_str()
        .expect("conversation")
        .to_owned();
    let frames = read_frames(
        client
            .get(format!("{local}/chat/{token}/{turn}/sse"))
            .send()
            .await
            .expect("sse"),
    )
    .await;
    assert!(
        frames
            .iter()
            .any(|(e, d)| e == "done" && d.contains("handoff"))
    );

    let waiting = array(data.json(&["inbox", "--state", "handoff"]));
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["id"], conv.as_str());
    let table = data.ok(&["inbox"]);
    assert!(
        table.contains(&conv) && table.contains("handoff"),
        "{table}"
    );

    // The visitor's page holds its conversation stream open; the reply comes from this process.
    let mut stream = client
        .get(format!(
            "{local}/chat/{token}/events?conversation_id={conv}"
        ))
        .send()
        .await
        .expect("events");
    let reply = data.json(&["conversation", "reply", &conv, "Bring it by on Tuesday!"]);
    assert_eq!(reply["role"], "owner");
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.chunk().await.expect("read") {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("Bring it by on Tuesday!") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "the CLI's reply reached the open stream: {seen}"
    );
    assert!(seen.contains("\"role\":\"owner\""), "{seen}");

    let shown = data.ok(&["conversation", "show", &conv]);
    assert!(
        shown.contains("you answer") && shown.contains("you: Bring it by"),
        "{shown}"
    );
    assert!(
        data.ok(&["conversation", "hand-back", &conv])
            .contains("the agent answers")
    );
    assert!(
        data.ok(&["conversation", "resolve", &conv])
            .contains("resolved")
    );

    let file = data.path().join("export.csv");
    data.ok(&[
        "export",
        "--from",
        "1d",
        "--out",
        file.to_str().expect("utf-8 path"),
    ]);
    let csv = std::fs::read_to_string(&file).expect("the export");
    assert!(csv.starts_with("conversation_id,"), "{csv}");
    assert!(csv.contains("Bring it by on Tuesday!") && csv.contains("can you fix my bicycle?"));
    let json: Value =
        serde_json::from_str(&data.ok(&["export", "--conversation", &conv])).expect("JSON export");
    assert_eq!(json[0]["messages"].as_array().map(Vec::len), Some(3));
    let bad = data.run(&["export", "--from", "yesterday-ish"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));

    assert!(data.ok(&["retention"]).contains("kept forever"));
    let set = data.json(&["retention", "30"]);
    assert_eq!(
        (set["retention_days"].as_u64(), set["deleted"].as_u64()),
        (Some(30), Some(0))
    );
    let bad = data.run(&["retention", "0"]);
    assert!(!bad.status.success(), "0 days is refused");
    assert_eq!(data.json(&["retention"])["retention_days"], 30);
    data.ok(&["retention", "forever"]);

    server.terminate();
    assert!(server.wait_for_exit(Duration::from_secs(10)).success());
}

/// `token embed` prints the one-line website embed; a bad website is refused and changes nothing.
#[test]
fn token_embed_prints_the_snippet_for_the_websites_given() {
    let data = Data::new();
    let demo = data.show("web:demo");
    let id = demo[0]["id"]
        .as_i64()
        .expect("the demo link's id")
        .to_string();
    let url = data.url_of("web:demo");
    let err = data.fail(&["token", "embed", &id, "--origin", "javascript:alert(1)"]);
    assert!(err.contains("is not an origin"), "{err}");
    assert_eq!(data.show("web:demo")[0]["origins"], serde_json::json!([]));
    let snippet = data.ok(&["token", "embed", &id, "--origin", "https://Shop.Example/"]);
    assert_eq!(
        snippet.trim(),
        format!(
            "<script src=\"{DEFAULT_BASE}/widget/chat.js\" data-chatlink=\"{url}\" async></script>"
        )
    );
    let embed = data.json(&["token", "embed", &id]);
    assert_eq!(
        embed["origins"],
        serde_json::json!(["https://shop.example"])
    );
}

#[test]
fn cli_knowledge_grows_other_phrasings_languages_and_learned_answers() {
    let data = Data::new();
    let entries = array(data.json(&["agent", "knowledge", "list", "demo"]));
    let hours = entries
        .iter()
        .find(|e| e["question"] == "What are your opening hours?")
        .expect("the demo's hours")["id"]
        .as_i64()
        .expect("id")
        .to_string();

    let grown = array(data.json(&[
        "agent",
        "knowledge",
        "also-asked",
        "demo",
        &hours,
        "When do you shut?",
    ]));
    assert_eq!(
        grown[0]["phrasings"],
        serde_json::json!(["When do you shut?"])
    );
    // A repeat, whatever its case, changes nothing.
    let again = array(data.json(&[
        "agent",
        "knowledge",
        "also-asked",
        "demo",
        &hours,
        "when do you SHUT?",
    ]));
    assert_eq!(again[0]["phrasings"], grown[0]["phrasings"]);
    let err = data.fail(&["agent", "knowledge", "also-asked", "demo", "99999", "x"]);
    assert!(err.contains("not found"), "{err}");

    let err = data.fail(&["agent", "knowledge", "language", "demo", &hours, "klingon"]);
    assert!(err.contains("unknown language"), "{err}");
    let set = array(data.json(&["agent", "knowledge", "language", "demo", &hours, "en"]));
    assert_eq!(set[0]["lang"], "en");
    let auto = array(data.json(&["agent", "knowledge", "language", "demo", &hours, "auto"]));
    assert_eq!(auto[0]["lang"], Value::Null);

    let learned = array(data.json(&[
        "agent",
        "knowledge",
        "learn",
        "demo",
        "--question",
        "Habt ihr vegane Brötchen?",
        "--answer",
        "Ja, jeden Samstag.",
    ]));
    assert_eq!(learned[0]["question"], "Habt ihr vegane Brötchen?");
    assert_eq!(
        learned[0]["lang"], "de",
        "the visitor's language is the entry's"
    );
    let into = array(data.json(&[
        "agent",
        "knowledge",
        "learn",
        "demo",
        "--question",
        "are you open on bank holidays",
        "--into",
        &hours,
    ]));
    assert_eq!(
        into[0]["phrasings"],
        serde_json::json!(["When do you shut?", "are you open on bank holidays"])
    );
    // A phrasing keeps its entry's answer: an answer with --into is a usage error, not dropped.
    let out = data.run(&[
        "agent",
        "knowledge",
        "learn",
        "demo",
        "--question",
        "open at easter?",
        "--answer",
        "No.",
        "--into",
        &hours,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let long_key = "k".repeat(201);
    let err = data.fail(&[
        "agent",
        "knowledge",
        "learn",
        "demo",
        "--question",
        "open at easter?",
        "--into",
        &hours,
        "--key",
        &long_key,
    ]);
    assert!(err.contains("key"), "{err}");
    let err = data.fail(&["agent", "knowledge", "dismiss", "demo", &long_key]);
    assert!(err.contains("key"), "{err}");
    let unchanged = array(data.json(&["agent", "knowledge", "list", "demo"]));
    let hours_now = unchanged
        .iter()
        .find(|e| e["id"].as_i64().map(|id| id.to_string()).as_deref() == Some(hours.as_str()))
        .expect("hours");
    assert_eq!(
        hours_now["phrasings"], into[0]["phrasings"],
        "refused: no change"
    );

    assert_eq!(
        data.json(&["agent", "knowledge", "unanswered", "demo"]),
        serde_json::json!([])
    );
    assert!(
        data.ok(&["agent", "knowledge", "unanswered", "demo"])
            .contains("no unanswered questions")
    );
    data.ok(&["agent", "knowledge", "dismiss", "demo", "never asked"]);
}
