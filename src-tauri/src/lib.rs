//! Chatlink's desktop shell: one `chatlink-core` `App`, the chat server running in the
//! background while the window is open, and thin commands for the window (`ui/`).

mod commands;
mod desktop;
pub mod types;

use tauri::Manager;

pub use desktop::Desktop;

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHATLINK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            // A second launch shows the running window instead of a second server.
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let desktop = Desktop::open();
            if let Err(e) =
                tauri::async_runtime::block_on(desktop.start_server(desktop::bind_from_env()))
            {
                tracing::error!(code = %e.code, "the chat server did not start: {}", e.message);
            }
            app.manage(desktop);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::list_links,
            commands::issue_link,
            commands::revoke_link,
            commands::reissue_link,
            commands::link_qr_svg,
            commands::list_agents,
            commands::get_agent,
            commands::create_agent,
            commands::update_agent,
            commands::set_api_key,
            commands::list_knowledge,
            commands::add_knowledge,
            commands::update_knowledge,
            commands::remove_knowledge,
            commands::import_knowledge,
            commands::list_widget_apps,
            commands::create_widget_app,
            commands::reveal_app_secret,
            commands::rotate_app_secret,
            commands::revoke_widget_app,
            commands::set_widget_app_origins,
            commands::widget_embed,
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
