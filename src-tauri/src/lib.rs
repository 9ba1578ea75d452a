//! Chatlink's desktop shell: one `chatlink-core` `App`, the chat server running in the
//! background, and thin commands for the window (`ui/`).
//!
//! Closing the window hides it to the tray and the server keeps answering visitors; "Quit" in the
//! tray menu stops the server gracefully. When the owner turns "keep running in the tray" off in
//! Settings, or the desktop has no tray (the icon cannot be made), closing the window quits, so
//! the app never runs with no way back to it.

mod commands;
mod desktop;
mod notify;
mod preview;
pub mod types;

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WindowEvent};

pub use desktop::Desktop;

/// Whether a tray icon exists to bring the window back.
static IN_TRAY: AtomicBool = AtomicBool::new(false);

fn show_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

fn build_tray(app: &tauri::App) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Chatlink", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Chatlink", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("Chatlink: chat server running")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_window(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Logs to stderr and to `desktop.log` in the data folder, since an
/// app started from a menu has no terminal to read. Secrets never reach either.
fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHATLINK_LOG")
        .unwrap_or_else(|_| "info".into());
    let file = desktop::log_file().map(|f| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer())
        .with(file)
        .init();
}

/// A session logout (or `kill`) sends SIGTERM: quit as from the tray, so the server ends its
/// streams and a tunnel's process is stopped rather than left running.
fn quit_on_sigterm(handle: tauri::AppHandle) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
                tracing::info!("SIGTERM: quitting");
                handle.exit(0);
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch for SIGTERM"),
        }
    });
    #[cfg(not(unix))]
    let _ = handle;
}

pub fn run() {
    init_logging();
    let app = tauri::Builder::default()
        // A second launch shows the running window instead of starting a second server.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_window(app)
        }))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        // "Start at login": an XDG autostart entry on Linux, a launch agent on macOS.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        // The main window reopens where the owner left it; the preview always opens fresh.
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_denylist(&[preview::LABEL])
                .build(),
        )
        .setup(|app| {
            let desktop = Desktop::open();
            if let Err(e) =
                tauri::async_runtime::block_on(desktop.start_server(desktop::bind_from_env()))
            {
                tracing::error!(code = %e.code, "the chat server did not start: {}", e.message);
            }
            if let Ok(core) = desktop.app() {
                notify::forward(app.handle().clone(), core.owner_events());
            }
            tauri::async_runtime::block_on(desktop.resume_tunnel());
            quit_on_sigterm(app.handle().clone());
            app.manage(desktop);
            match build_tray(app) {
                Ok(()) => IN_TRAY.store(true, Ordering::SeqCst),
                Err(e) => tracing::warn!(error = %e, "no tray icon; closing the window quits"),
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == "main"
            {
                let keep = window.state::<Desktop>().keep_in_tray();
                tracing::info!(keep_in_tray = keep, "the window was closed");
                if keep && IN_TRAY.load(Ordering::SeqCst) {
                    api.prevent_close();
                    let _ = window.hide();
                } else {
                    // The preview window must not keep a closed app alive.
                    window.app_handle().exit(0);
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::reach,
            commands::check_reach,
            commands::start_tunnel,
            commands::stop_tunnel,
            commands::dismiss_address_change,
            commands::proxy_config,
            commands::list_conversations,
            commands::get_conversation,
            commands::take_over,
            commands::hand_back,
            commands::resolve_conversation,
            commands::block_conversation,
            commands::owner_reply,
            commands::activity,
            commands::export_conversations,
            commands::get_retention,
            commands::set_retention,
            commands::overview,
            commands::get_settings,
            commands::save_settings,
            commands::open_preview,
            commands::copy_link_qr,
            commands::ask_agent,
            commands::list_route_rules,
            commands::set_route_rule,
            commands::remove_route_rule,
            commands::list_links,
            commands::issue_link,
            commands::pause_link,
            commands::revoke_link,
            commands::reissue_link,
            commands::link_qr_svg,
            commands::save_link_qr,
            commands::list_agents,
            commands::get_agent,
            commands::create_agent,
            commands::update_agent,
            commands::set_api_key,
            commands::set_embeddings,
            commands::set_embeddings_key,
            commands::list_knowledge,
            commands::add_knowledge,
            commands::update_knowledge,
            commands::remove_knowledge,
            commands::import_knowledge,
            commands::list_unanswered,
            commands::dismiss_unanswered,
            commands::learn_suggestion,
            commands::similar_entries,
            commands::learn,
            commands::list_widget_apps,
            commands::create_widget_app,
            commands::reveal_app_secret,
            commands::rotate_app_secret,
            commands::revoke_widget_app,
            commands::set_widget_app_origins,
            commands::widget_embed,
            commands::languages,
            commands::agent_look,
            commands::preview_look,
            commands::set_agent_look,
            commands::set_agent_logo,
            commands::logo_image,
            commands::app_look,
            commands::set_app_look,
            commands::link_embed,
            commands::set_link_origins,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: the window could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            let desktop = handle.state::<Desktop>();
            tauri::async_runtime::block_on(desktop.shutdown());
        }
    });
}
