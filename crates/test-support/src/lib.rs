//! What Chatlink's test suites share, written once: a server on a free loopback port over a real
//! SQLite file, a fake OpenAI-compatible provider ([`provider`]), free ports, and a QR decoder
//! that reads codes back the way a phone camera would, fake tunnel tools and a proxy that holds
//! streams ([`tunnels`]).
//!
//! Test code only: helpers panic with a message saying what failed instead of returning errors.

pub mod embeddings;
pub mod provider;
pub mod tunnels;

use std::net::TcpListener;

use chatlink_core::app::{AgentUpdate, EngineSetting, NewAgent};
use chatlink_core::secret::SecretBackend;
use chatlink_core::{App, AppConfig, Limits};
use tempfile::TempDir;

pub use embeddings::FakeEmbeddings;
pub use provider::FakeProvider;

/// A port nobody listens on right now (the OS picks it; a rare race is retried by callers).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS hands out a free local port")
}

/// The Chatlink server running in this process on a free port, on a fresh data folder with the
/// seeded demo agent and in-memory secrets.
pub struct TestServer {
    /// The data folder; removed when dropped.
    pub dir: TempDir,
    pub app: App,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    /// The demo link, `http://127.0.0.1:<port>/chat/<token>/`.
    pub demo_url: String,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(Limits::default()).await
    }

    /// [`TestServer::start`] with other limits (e.g. a stream cap of zero).
    pub async fn start_with(limits: Limits) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("chatlink-test-data-")
            .tempdir()
            .expect("create a temporary data folder");
        let mut config = AppConfig::new(dir.path(), SecretBackend::Memory);
        config.limits = limits;
        let app = App::open(config).expect("open the app on a fresh data folder");
        app.start_serving().await.expect("start serving");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free local port");
        let base_url = format!(
            "http://{}",
            listener.local_addr().expect("the listener's address")
        );
        app.set_base_url(&base_url).expect("set the base URL");
        tokio::spawn(chatlink_core::http::serve(app.clone(), listener));
        let demo_url = app
            .links_of_jid("web:demo")
            .await
            .expect("list the demo links")
            .first()
            .and_then(|l| l.url.clone())
            .expect("the demo link is seeded with a URL");
        TestServer {
            dir,
            app,
            base_url,
            demo_url,
        }
    }

    /// The seeded demo link, as the owner sees it.
    pub async fn demo_link(&self) -> chatlink_core::app::LinkInfo {
        self.app
            .links_of_jid("web:demo")
            .await
            .expect("list the demo links")
            .into_iter()
            .next()
            .expect("the demo link")
    }

    /// Ends every stream and running turn.
    pub async fn stop(self) {
        self.app.shutdown().await;
    }
}

/// Creates the built-in agent `cakes` ("Cake Corner"), whose birthday and wedding cake prices
/// fit "how much is a cake?" about equally, and returns a chat link to it.
pub async fn cake_shop(app: &App) -> String {
    app.create_agent(NewAgent {
        slug: "cakes".into(),
        name: "Cake Corner".into(),
        greeting: "Hello!".into(),
        instructions: String::new(),
    })
    .await
    .expect("create the cake shop");
    for (q, a) in [
        (
            "How much is a birthday cake?",
            "Birthday cakes start at $25.",
        ),
        (
            "How much is a wedding cake?",
            "Wedding cakes start at $120.",
        ),
        ("When are you open?", "Every day from 8am to 6pm."),
        ("Do you deliver?", "Yes, within 5 km, for $4."),
    ] {
        app.add_knowledge("cakes", Some(q.into()), a.into())
            .await
            .expect("a cake shop entry");
    }
    app.issue_link(chatlink_core::app::IssueLink::chat("cakes"))
        .await
        .expect("a link to the cake shop")
        .url
        .expect("its URL")
}

/// Creates agent `slug` answering through the OpenAI-compatible provider at `base_url`.
pub async fn agent_on(app: &App, slug: &str, base_url: &str) {
    app.create_agent(NewAgent {
        slug: slug.into(),
        name: "Storyteller".into(),
        greeting: "Hello! Ask me for a story.".into(),
        instructions: String::new(),
    })
    .await
    .expect("create the agent");
    app.update_agent(
        slug,
        AgentUpdate {
            engine: Some(EngineSetting::OpenAi {
                base_url: base_url.to_owned(),
                model: "m".into(),
            }),
            ..AgentUpdate::default()
        },
    )
    .await
    .expect("point the agent at the provider");
}

/// Agent `slug` telling a slow story: `word1 ` … `word10 `, one piece every 800 ms (about 8 s),
/// slow enough to see a reply arrive while it is written. Returns the provider and the pieces.
pub async fn story_agent(app: &App, slug: &str) -> (FakeProvider, Vec<String>) {
    let pieces: Vec<String> = (1..=10).map(|i| format!("word{i} ")).collect();
    let provider = FakeProvider::drip(&pieces, std::time::Duration::from_millis(800)).await;
    agent_on(app, slug, &provider.base_url).await;
    (provider, pieces)
}

/// A `width`×`height` PNG of one colour: a logo as an owner would upload it.
pub fn logo_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("PNG header");
    let pixels: Vec<u8> = (0..width * height).flat_map(|_| rgb).collect();
    writer.write_image_data(&pixels).expect("PNG pixels");
    writer.finish().expect("PNG end");
    out
}

/// Decodes a QR code PNG back to its text, the way a phone camera would: 8-bit greyscale (as
/// Chatlink writes them) or RGB(A) (as the clipboard hands images over). Exactly one code must
/// be in the picture.
pub fn decode_qr_png(bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG fits in memory")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let (w, h) = (info.width as usize, info.height as usize);
    let pixels = &buf[..info.buffer_size()];
    let luma: Vec<u8> = match info.color_type {
        png::ColorType::Grayscale => pixels.to_vec(),
        // The modules are black on white: the green channel alone tells them apart.
        png::ColorType::Rgba => pixels.chunks_exact(4).map(|p| p[1]).collect(),
        png::ColorType::Rgb => pixels.chunks_exact(3).map(|p| p[1]).collect(),
        other => panic!("a QR code PNG in {other:?}"),
    };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "expected exactly one QR code in the PNG");
    let (_meta, content) = grids[0].decode().expect("rqrr decodes the QR code");
    content
}
