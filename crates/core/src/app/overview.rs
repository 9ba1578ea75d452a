//! The numbers on the window's Home screen.

use serde::Serialize;

use super::App;
use crate::error::Result;
use crate::model::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Overview {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub links_live: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub links_total: i64,
    /// Conversations started since the `since` the caller passed (the window passes its local
    /// midnight, since only it knows the owner's time zone).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub conversations_today: i64,
    /// Conversations an agent handed over to a person, not yet resolved.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub open_handoffs: i64,
}

impl App {
    /// Links, conversations started at or after `since` (ms since the epoch), open handoffs.
    pub async fn overview(&self, since: i64) -> Result<Overview> {
        let row = self
            .blocking(move |i| i.store.overview(since, now_ms()))
            .await?;
        Ok(Overview {
            links_live: row.links_live,
            links_total: row.links_total,
            conversations_today: row.conversations_since,
            open_handoffs: row.open_handoffs,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use futures_util::StreamExt;

    use super::super::test_util::test_app;
    use super::super::{IssueLink, PostMessage};
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    async fn ask(app: &App, token: &str, text: &str) {
        let posted = app
            .post_message(
                token,
                PostMessage {
                    content: text.into(),
                    conversation_id: None,
                    accept_language: None,
                },
                CLIENT,
            )
            .await
            .expect("post");
        let frames: Vec<_> = app
            .subscribe(token, &posted.turn_id, None)
            .await
            .expect("sse")
            .expect("a stream")
            .collect()
            .await;
        assert_eq!(
            frames.last().map(|f| f.event),
            Some(crate::model::FrameEvent::Done)
        );
    }

    #[tokio::test]
    async fn counts_links_conversations_since_and_handoffs_and_messages_per_link() {
        let (_d, app) = test_app();
        let start = now_ms();
        let link = app
            .issue_link(IssueLink::chat("demo"))
            .await
            .expect("issue");
        let url = link.url.expect("url");
        let token = url.trim_end_matches('/').rsplit('/').next().expect("token");
        let revoked = app
            .issue_link(IssueLink::chat("demo"))
            .await
            .expect("issue");
        app.revoke_link(revoked.id).await.expect("revoke");

        ask(&app, token, "When are you open on Sunday?").await;
        // Nothing in the demo's knowledge is about bicycles: the agent hands over.
        ask(&app, token, "can you fix my bicycle?").await;

        let o = app.overview(start).await.expect("overview");
        // The seeded demo link, the new one, and the revoked one.
        assert_eq!((o.links_live, o.links_total), (2, 3));
        assert_eq!(o.conversations_today, 2);
        assert_eq!(o.open_handoffs, 1);
        assert_eq!(
            app.overview(now_ms() + 1)
                .await
                .expect("later")
                .conversations_today,
            0
        );

        let listed = app.links_with_urls().await.expect("links");
        let counted = listed.iter().find(|l| l.id == link.id).expect("listed");
        assert_eq!(
            counted.messages, 2,
            "two visitor messages, the replies not counted"
        );
        assert_eq!(app.link(link.id).await.expect("one").messages, 2);
        assert!(
            listed
                .iter()
                .filter(|l| l.id != link.id)
                .all(|l| l.messages == 0)
        );
    }
}
