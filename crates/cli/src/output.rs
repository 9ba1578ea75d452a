//! What the CLI prints: short tables for people, JSON with `--json` for scripts.

use std::net::SocketAddr;

use chatlink_core::Error;
use chatlink_core::app::{
    AgentInfo, Audience, ConversationDetail, ConversationSummary, EngineInfo, LimitInfo, LinkInfo,
    Reach, ReachCheck, TranscriptMessage, UnansweredQuestion, WidgetAppInfo,
};
use chatlink_core::model::Knowledge;
use chatlink_core::secret::Sensitive;
use chatlink_core::tunnel::{TunnelState, TunnelStatus, TunnelTool};
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

impl Out {
    pub fn error(&self, e: &Error) {
        if self.json {
            eprintln!(
                "{}",
                serde_json::json!({"code": e.code(), "message": e.to_string()})
            );
        } else {
            eprintln!("error: {e}");
        }
    }

    pub fn done(&self, what: &str) {
        if self.json {
            print_json(&serde_json::json!({"ok": true, "message": what}));
        } else {
            println!("{what}");
        }
    }

    pub fn serving(&self, local: &SocketAddr, base: &str, demo: Option<&str>) {
        if self.json {
            print_json(
                &serde_json::json!({"listening": local.to_string(), "base_url": base, "demo_link": demo}),
            );
        } else {
            println!("Chatlink is serving on http://{local}");
            if base != format!("http://{local}") {
                println!("Links are built from {base}");
            }
            if let Some(url) = demo {
                println!("Demo chat link: {url}");
            }
            println!("Press Ctrl-C to stop.");
        }
    }

    pub fn issued(&self, link: &LinkInfo) {
        if self.json {
            print_json(link);
        } else {
            println!("{}", opt(&link.url));
            eprintln!("issued link {} on {}", link.id, link.jid);
        }
    }

    pub fn links(&self, links: &[LinkInfo]) {
        if self.json {
            return print_json(links);
        }
        println!(
            "{:>5}  {:<28} {:<8} {:<24} {:<20} URL",
            "ID", "JID", "STATUS", "LABEL", "CREATED"
        );
        for l in links {
            println!(
                "{:>5}  {:<28} {:<8} {:<24} {:<20} {}",
                l.id,
                l.jid,
                l.status,
                opt(&l.label),
                &l.created_at[..l.created_at.len().min(19)],
                l.url.as_deref().unwrap_or("")
            );
        }
    }

    pub fn revoked(&self, links: &[LinkInfo]) {
        if self.json {
            return print_json(links);
        }
        if links.is_empty() {
            println!("nothing to revoke: no live link there");
        }
        for l in links {
            println!(
                "revoked link {} on {}: its next visitor gets 401",
                l.id, l.jid
            );
        }
    }

    pub fn agent(&self, a: &AgentInfo) {
        if self.json {
            return print_json(a);
        }
        println!("{} ({})", a.name, a.slug);
        println!("  greeting:     {}", a.greeting);
        println!("  instructions: {}", a.instructions);
        match &a.engine {
            EngineInfo::Answers => println!("  engine:       built-in answers"),
            EngineInfo::Openai {
                base_url,
                model,
                api_key_set,
            } => println!(
                "  engine:       OpenAI-compatible, {model} at {base_url}, API key {}",
                if *api_key_set { "set" } else { "not set" }
            ),
        }
        if let Some(e) = &a.embeddings {
            let state = match (&e.problem, e.ready) {
                (Some(problem), _) => format!("not in use: {problem}"),
                (None, true) => "in use".to_owned(),
                (None, false) => "embedding the knowledge…".to_owned(),
            };
            println!(
                "  meaning:      {} at {}, API key {}, {state}",
                e.model,
                e.base_url,
                if e.api_key_set { "set" } else { "not set" }
            );
        }
        println!("  knowledge:    {} entries", a.knowledge_count);
    }

    pub fn agents(&self, agents: &[AgentInfo]) {
        if self.json {
            return print_json(agents);
        }
        println!("{:<20} {:<30} {:<8} KNOWLEDGE", "SLUG", "NAME", "ENGINE");
        for a in agents {
            let engine = match a.engine {
                EngineInfo::Answers => "answers",
                EngineInfo::Openai { .. } => "openai",
            };
            println!(
                "{:<20} {:<30} {:<8} {}",
                a.slug, a.name, engine, a.knowledge_count
            );
        }
    }

    pub fn knowledge(&self, entries: &[Knowledge]) {
        if self.json {
            return print_json(entries);
        }
        for k in entries {
            match &k.question {
                Some(q) => println!("{:>5}  Q: {q}\n       A: {}", k.id, k.answer),
                None => println!("{:>5}  {}", k.id, k.answer),
            }
            for p in &k.phrasings {
                println!("       also asked as: {p}");
            }
            if let Some(lang) = k.lang {
                println!("       language: {}", lang.code());
            }
        }
    }

    pub fn unanswered(&self, questions: &[UnansweredQuestion]) {
        if self.json {
            return print_json(questions);
        }
        if questions.is_empty() {
            return println!("no unanswered questions");
        }
        for q in questions {
            println!(
                "{:>4}×  {}\n       key: {}  last asked {}",
                q.asks, q.question, q.key, q.last_asked_at
            );
        }
    }

    fn origins(app: &WidgetAppInfo) -> String {
        if app.origins.is_empty() {
            "any website (add --origin to limit it)".to_owned()
        } else {
            app.origins.join(", ")
        }
    }

    /// The one place besides `secret` that prints an appSecret: right after it was made.
    pub fn created_app(&self, app: &WidgetAppInfo, secret: &Sensitive<String>) {
        if self.json {
            return print_json(&serde_json::json!({"app": app, "appSecret": secret.expose()}));
        }
        println!("appId:     {}", app.id);
        println!("appSecret: {}", secret.expose());
        eprintln!(
            "created widget app {} for agent {}: keep the appSecret on your website's server only; \
             `chatlink app reveal {}` shows it again",
            app.id, app.folder, app.id
        );
        eprintln!("allowed origins: {}", Self::origins(app));
        eprintln!("session tokens last {} s", app.token_ttl_secs);
    }

    pub fn secret(&self, app_id: &str, secret: &Sensitive<String>) {
        if self.json {
            return print_json(&serde_json::json!({"appId": app_id, "appSecret": secret.expose()}));
        }
        println!("{}", secret.expose());
    }

    pub fn app(&self, app: &WidgetAppInfo) {
        if self.json {
            return print_json(app);
        }
        println!("{} ({}, {})", app.id, app.name, app.status);
        println!("  agent:           {}", app.folder);
        println!("  allowed origins: {}", Self::origins(app));
        println!("  session tokens:  {} s", app.token_ttl_secs);
        if let Some(at) = &app.revoked_at {
            println!("  revoked at:      {at}: its sessions and token exchanges get 401");
        }
    }

    pub fn apps(&self, apps: &[WidgetAppInfo]) {
        if self.json {
            return print_json(apps);
        }
        println!(
            "{:<28} {:<16} {:<8} {:<20} {:<20} ORIGINS",
            "APP ID", "AGENT", "STATUS", "NAME", "CREATED"
        );
        for a in apps {
            let origins = if a.origins.is_empty() {
                "any".to_owned()
            } else {
                a.origins.join(" ")
            };
            println!(
                "{:<28} {:<16} {:<8} {:<20} {:<20} {}",
                a.id,
                a.folder,
                a.status,
                a.name,
                &a.created_at[..a.created_at.len().min(19)],
                origins
            );
        }
    }

    pub fn inbox(&self, list: &[ConversationSummary]) {
        if self.json {
            return print_json(list);
        }
        if list.is_empty() {
            return println!("no conversations");
        }
        println!(
            "{:<24} {:<18} {:<9} {:<20} LAST MESSAGE",
            "ID", "JID", "STATE", "LAST ACTIVITY"
        );
        for c in list {
            let state = if c.taken_over {
                format!("{}*", c.state)
            } else {
                c.state.to_string()
            };
            println!(
                "{:<24} {:<18} {:<9} {:<20} {}",
                c.id,
                c.jid,
                state,
                &c.updated_at[..c.updated_at.len().min(19)],
                c.last_message.as_deref().unwrap_or("").replace('\n', " ")
            );
        }
        if list.iter().any(|c| c.taken_over) {
            println!("* you are answering it; the agent stays quiet");
        }
    }

    pub fn summary(&self, c: &ConversationSummary) {
        if self.json {
            return print_json(c);
        }
        let who = if c.blocked {
            "blocked: its visitor's messages are refused"
        } else if c.taken_over {
            "you answer"
        } else {
            "the agent answers"
        };
        println!("{} ({}, {}): {who}", c.id, c.jid, c.state);
    }

    pub fn conversation(&self, d: &ConversationDetail) {
        if self.json {
            return print_json(d);
        }
        self.summary(&d.conversation);
        for m in &d.messages {
            let who = match m.role.as_str() {
                "user" => "visitor",
                "owner" => "you",
                _ => "agent",
            };
            println!(
                "[{}] {who}: {}",
                &m.created_at[..m.created_at.len().min(19)],
                m.content
            );
        }
    }

    pub fn reply(&self, m: &TranscriptMessage) {
        if self.json {
            return print_json(m);
        }
        println!(
            "sent ({}); the agent stays quiet until you hand the conversation back",
            m.id
        );
    }

    pub fn retention(&self, days: Option<u32>, deleted: Option<usize>) {
        if self.json {
            return print_json(&serde_json::json!({"retention_days": days, "deleted": deleted}));
        }
        match days {
            Some(d) => println!(
                "resolved conversations quiet for more than {d} days are deleted daily (open ones never)"
            ),
            None => println!("conversations are kept forever"),
        }
        if let Some(n) = deleted {
            println!("deleted now: {n}");
        }
    }

    /// The limits table; `saved` after a change (what the next start uses).
    pub fn limits(&self, rows: &[LimitInfo], saved: bool) {
        if self.json {
            return print_json(rows);
        }
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        for r in rows {
            let note = if r.value == r.default {
                String::new()
            } else {
                format!("  (default {})", r.default)
            };
            println!("{:width$}  {}{note}", r.name, r.value);
        }
        if saved {
            println!("saved; a running server keeps its limits until it restarts");
        } else {
            println!(
                "docs/limits.md says what each one bounds; `chatlink limits set NAME VALUE` saves one"
            );
        }
    }

    /// Text printed as it is (a configuration file), or as `{"text": …}` with `--json`.
    pub fn embed(&self, embed: &chatlink_core::app::LinkEmbed) {
        if self.json {
            return print_json(embed);
        }
        println!("{}", embed.snippet);
        if embed.origins.is_empty() {
            eprintln!(
                "It shows on no website yet: add yours with --origin https://your-shop.example"
            );
        } else {
            eprintln!("It shows on: {}", embed.origins.join(", "));
        }
    }

    pub fn text(&self, text: &str) {
        if self.json {
            print_json(&serde_json::json!({ "text": text }));
        } else {
            print!("{text}");
        }
    }

    pub fn reach_check(&self, check: &ReachCheck) {
        if self.json {
            return print_json(check);
        }
        let mark = if check.public() { "ok" } else { "not public" };
        println!("Public check ({mark}): {} — {}", check.url, check.message);
        if check.works {
            println!(
                "  checked from this computer: it proves the route, not every network outside"
            );
        }
    }

    pub fn reach(&self, reach: &Reach) {
        if self.json {
            return print_json(reach);
        }
        let who = match reach.audience {
            Audience::ThisComputer => "only this computer",
            Audience::ThisNetwork => "devices on this network",
            Audience::Internet => "anyone on the internet",
        };
        println!("Links start with {} ({who} can open them)", reach.base_url);
        match &reach.last_check {
            Some(c) => println!(
                "Last check: {} ({})",
                c.message,
                if c.works { "works" } else { "failed" }
            ),
            None => println!("Not checked yet: `chatlink public check`"),
        }
        if let Some(change) = &reach.address_change {
            println!(
                "The address changed from {}: QR codes printed before point at the old one",
                change.from
            );
        }
    }

    pub fn tunnel(&self, status: &TunnelStatus) {
        if self.json {
            return print_json(status);
        }
        let tool = status.choice.kind.program();
        match &status.state {
            TunnelState::Starting => println!("Tunnel ({tool}): starting"),
            TunnelState::Up { url } => {
                println!("Public address: {url}");
                if !status.choice.lasting() {
                    println!(
                        "  (a quick tunnel: this address changes every time it starts; fine for trying out, not for printed QR codes)"
                    );
                }
            }
            TunnelState::Retrying {
                reason,
                retry_in_secs,
            } => println!("Tunnel ({tool}) stopped: {reason}; starting again in {retry_in_secs} s"),
            TunnelState::Stopped => println!("Tunnel ({tool}): stopped"),
        }
    }

    pub fn tunnels(&self, tools: &[TunnelTool]) {
        if self.json {
            return print_json(tools);
        }
        for t in tools {
            let found = t.program.as_deref().unwrap_or("not installed");
            println!("{}: {found}\n  {}", t.kind.program(), t.about);
        }
        println!("Start one with `chatlink serve --tunnel NAME`.");
    }
}
