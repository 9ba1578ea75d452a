//! The public-address self-test's answers: the proof for a nonce, plain and as a stream whose
//! second event comes [`STREAM_GAP`] after the first (see `app::public`).

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::chat::sse_headers;
use super::error::ApiError;
use crate::app::{App, STREAM_GAP};

pub async fn proof(
    State(app): State<App>,
    Path(nonce): Path<String>,
) -> Result<Response, ApiError> {
    let proof = app.reach_proof(&nonce).await?;
    let mut res = proof.into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

pub async fn proof_stream(
    State(app): State<App>,
    Path(nonce): Path<String>,
) -> Result<Response, ApiError> {
    let proof = app.reach_proof(&nonce).await?;
    let first = futures_util::stream::once(async move {
        Ok::<_, Infallible>(Event::default().event("proof").data(proof))
    });
    let second = futures_util::stream::once(async {
        tokio::time::sleep(STREAM_GAP).await;
        Ok::<_, Infallible>(Event::default().event("end").data(""))
    });
    let mut res = Sse::new(first.chain(second)).into_response();
    sse_headers(&mut res);
    Ok(res)
}
