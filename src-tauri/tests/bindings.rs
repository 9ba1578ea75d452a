//! The window's TypeScript types (`ui/src/bindings/`) are generated from Rust by ts-rs and
//! committed; this test fails when they drift. `UPDATE_BINDINGS=1 cargo test -p chatlink-desktop
//! --test bindings` rewrites them.

use std::path::PathBuf;

use chatlink_core::app::{
    AddressChange, AgentBudget, AgentInfo, AppStatus, Audience, Channel, ConversationDetail,
    ConversationSummary, DayActivity, EmbeddingsInfo, EngineInfo, LinkInfo, LinkStatus, Overview,
    ProxyServer, Reach, ReachCheck, ReachProblem, RouteRuleInfo, ServerSettings, TestAnswer,
    TranscriptMessage, Via, WidgetAppInfo, WidgetEmbed,
};
use chatlink_core::app::{
    KnowledgeEdit, LanguageInfo, LearnSuggestion, LinkEmbed, LookInfo, SimilarEntry,
    UnansweredQuestion,
};
use chatlink_core::brand::{Look, Palette, Shown, Side};
use chatlink_core::i18n::Lang;
use chatlink_core::model::{ConversationState, Knowledge, Role, TokenKind};
use chatlink_core::tunnel::{
    NamedTunnel, TunnelChoice, TunnelKind, TunnelState, TunnelStatus, TunnelTool,
};
use chatlink_desktop::types::{
    AgentEdit, BudgetForm, CommandError, CreatedWidgetAppView, EmbeddingsForm, EngineForm,
    ExportForm, InboxFilterForm, NewAgentForm, NewLink, NewWidgetAppForm, OwnerEventView,
    ReachView, RouteRuleForm, Status,
};
use ts_rs::TS;

fn bindings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings")
}

/// `Some(problem)` when the committed file differs from what Rust generates.
fn check<T: TS + 'static>() -> Option<String> {
    let generated = T::export_to_string().expect("ts-rs exports the type");
    let path = bindings_dir().join(format!("{}.ts", T::name()));
    if std::env::var("UPDATE_BINDINGS").as_deref() == Ok("1") {
        std::fs::create_dir_all(bindings_dir()).expect("create ui/src/bindings");
        std::fs::write(&path, &generated).expect("write a binding");
        return None;
    }
    match std::fs::read_to_string(&path) {
        Ok(committed) if committed == generated => None,
        Ok(_) => Some(format!("{} differs from the Rust type", path.display())),
        Err(e) => Some(format!("{}: {e}", path.display())),
    }
}

#[test]
fn typescript_bindings_match_the_rust_types() {
    let problems: Vec<String> = [
        check::<LinkInfo>(),
        check::<AgentInfo>(),
        check::<EngineInfo>(),
        check::<EmbeddingsInfo>(),
        check::<EmbeddingsForm>(),
        check::<AgentBudget>(),
        check::<BudgetForm>(),
        check::<Status>(),
        check::<CommandError>(),
        check::<NewLink>(),
        check::<Knowledge>(),
        check::<WidgetAppInfo>(),
        check::<WidgetEmbed>(),
        check::<Look>(),
        check::<Shown>(),
        check::<Palette>(),
        check::<Side>(),
        check::<Lang>(),
        check::<LookInfo>(),
        check::<LinkEmbed>(),
        check::<LanguageInfo>(),
        check::<NewAgentForm>(),
        check::<EngineForm>(),
        check::<AgentEdit>(),
        check::<NewWidgetAppForm>(),
        check::<CreatedWidgetAppView>(),
        check::<Overview>(),
        check::<ServerSettings>(),
        check::<TestAnswer>(),
        check::<KnowledgeEdit>(),
        check::<UnansweredQuestion>(),
        check::<LearnSuggestion>(),
        check::<SimilarEntry>(),
        check::<RouteRuleInfo>(),
        check::<RouteRuleForm>(),
        check::<ConversationSummary>(),
        check::<ConversationDetail>(),
        check::<TranscriptMessage>(),
        check::<DayActivity>(),
        check::<InboxFilterForm>(),
        check::<ExportForm>(),
        check::<OwnerEventView>(),
        check::<TokenKind>(),
        check::<LinkStatus>(),
        check::<AppStatus>(),
        check::<Role>(),
        check::<ConversationState>(),
        check::<Channel>(),
        check::<ReachView>(),
        check::<Reach>(),
        check::<ReachCheck>(),
        check::<ReachProblem>(),
        check::<Audience>(),
        check::<Via>(),
        check::<AddressChange>(),
        check::<TunnelStatus>(),
        check::<TunnelState>(),
        check::<TunnelChoice>(),
        check::<TunnelKind>(),
        check::<NamedTunnel>(),
        check::<TunnelTool>(),
        check::<ProxyServer>(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        problems.is_empty(),
        "regenerate with UPDATE_BINDINGS=1 cargo test -p chatlink-desktop --test bindings:\n{}",
        problems.join("\n")
    );
}
