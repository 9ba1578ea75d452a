//! Widget session JWTs: HS256 only, fixed `iss` and `aud`, a short `exp`, and one key per widget
//! app and secret generation.
//!
//! Each app signs with `HMAC(jwt key, app id ‖ generation)`, where the jwt key is derived from the
//! master key. The app id travels in the header's `kid` (and again in the `app` claim) so the
//! verifier can pick the key before trusting anything; rotating an app's secret bumps its
//! generation, which ends every session signed before the rotation. Revocation is checked against
//! the app's row on every request, not here.
//!
//! `jsonwebtoken` does the encoding and the checks; the algorithm list holds HS256 alone, so a
//! token claiming `none` or any other algorithm never reaches a signature check.

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::secret::{Keys, Sensitive};

pub const ISSUER: &str = "chatlink";
pub const AUDIENCE: &str = "chatlink-widget";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The customer's id for the end user.
    pub sub: String,
    /// The widget app that vouched for the end user.
    pub app: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The signing key of one app at one secret generation.
pub fn app_key(keys: &Keys, app_id: &str, generation: i64) -> Sensitive<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(keys.jwt.expose())
        .expect("HMAC takes keys of any length");
    mac.update(app_id.as_bytes());
    mac.update(&[0]);
    mac.update(&generation.to_be_bytes());
    Sensitive::new(mac.finalize().into_bytes().into())
}

/// Signs a session for `end_user` of `app_id`, valid from `now` (Unix seconds) for `ttl_secs`.
pub fn issue(
    key: &Sensitive<[u8; 32]>,
    app_id: &str,
    end_user: &str,
    now: i64,
    ttl_secs: i64,
) -> Result<(String, Claims)> {
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: end_user.into(),
        app: app_id.into(),
        iat: now,
        exp: now + ttl_secs,
        jti: crate::token::random_id(),
    };
    let header = Header {
        kid: Some(app_id.into()),
        ..Header::new(Algorithm::HS256)
    };
    let jwt = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key.expose()))
        .map_err(|e| Error::Internal(format!("signing a session failed: {e}")))?;
    Ok((jwt, claims))
}

/// The app a token names, read before any check so the verifier can pick the key. Trust nothing
/// else about the token until [`verify`] accepts it.
pub fn claimed_app(jwt: &str) -> Result<String> {
    jsonwebtoken::decode_header(jwt)
        .ok()
        .filter(|h| h.alg == Algorithm::HS256)
        .and_then(|h| h.kid)
        .ok_or(Error::InvalidSession)
}

/// Checks signature, algorithm, issuer, audience and expiry (no leeway: the same server issues and
/// checks, so there is no clock skew to forgive), and that the token is for `app_id`.
pub fn verify(key: &Sensitive<[u8; 32]>, app_id: &str, jwt: &str) -> Result<Claims> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v.leeway = 0;
    let data = jsonwebtoken::decode::<Claims>(jwt, &DecodingKey::from_secret(key.expose()), &v)
        .map_err(|_| Error::InvalidSession)?;
    if data.claims.app != app_id || data.header.kid.as_deref() != Some(app_id) {
        return Err(Error::InvalidSession);
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;
    use crate::secret::{MemoryStore, load_or_create_master_key};

    fn keys() -> Keys {
        load_or_create_master_key(&MemoryStore::default(), "t").expect("keys")
    }

    fn now() -> i64 {
        crate::model::now_ms() / 1000
    }

    /// A token with any header and claims, signed with `key` (or unsigned when `None`).
    fn forge(header: serde_json::Value, claims: serde_json::Value, key: Option<&[u8]>) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let sig = key.map_or_else(String::new, |k| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(k).expect("key");
            mac.update(format!("{h}.{c}").as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        });
        format!("{h}.{c}.{sig}")
    }

    fn claims_json(app: &str, aud: &str, exp: i64) -> serde_json::Value {
        json!({"iss": ISSUER, "aud": aud, "sub": "u1", "app": app, "iat": now(), "exp": exp, "jti": "j"})
    }

    #[test]
    fn a_session_round_trips_and_names_its_app() {
        let k = app_key(&keys(), "app_a", 1);
        let (jwt, claims) = issue(&k, "app_a", "user-42", now(), 900).expect("issue");
        assert_eq!(claimed_app(&jwt).expect("kid"), "app_a");
        let back = verify(&k, "app_a", &jwt).expect("verify");
        assert_eq!(back, claims);
        assert_eq!(back.sub, "user-42");
        assert_eq!(back.exp - back.iat, 900);
        assert_eq!(back.jti.len(), 22);
    }

    #[test]
    fn every_forgery_is_an_invalid_session() {
        let keys = keys();
        let k = app_key(&keys, "app_a", 1);
        let good = claims_json("app_a", AUDIENCE, now() + 600);
        let hs = json!({"alg": "HS256", "typ": "JWT", "kid": "app_a"});
        let rejected = [
            (
                "alg none",
                forge(
                    json!({"alg": "none", "typ": "JWT", "kid": "app_a"}),
                    good.clone(),
                    None,
                ),
            ),
            (
                "HS512",
                forge(
                    json!({"alg": "HS512", "kid": "app_a"}),
                    good.clone(),
                    Some(k.expose()),
                ),
            ),
            (
                "another key",
                forge(hs.clone(), good.clone(), Some(&[7u8; 32])),
            ),
            (
                "the same app's key before a rotation",
                issue(&app_key(&keys, "app_a", 2), "app_a", "u", now(), 60)
                    .expect("issue")
                    .0,
            ),
            (
                "another audience",
                forge(
                    hs.clone(),
                    claims_json("app_a", "someone-else", now() + 600),
                    Some(k.expose()),
                ),
            ),
            (
                "expired",
                forge(
                    hs.clone(),
                    claims_json("app_a", AUDIENCE, now() - 1),
                    Some(k.expose()),
                ),
            ),
            (
                "another app in the claims",
                forge(
                    hs.clone(),
                    claims_json("app_b", AUDIENCE, now() + 600),
                    Some(k.expose()),
                ),
            ),
            (
                "another issuer",
                forge(
                    hs.clone(),
                    json!({"iss": "evil", "aud": AUDIENCE, "sub": "u", "app": "app_a", "iat": now(), "exp": now() + 60, "jti": "j"}),
                    Some(k.expose()),
                ),
            ),
            (
                "no exp",
                forge(
                    hs.clone(),
                    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "app": "app_a", "iat": now(), "jti": "j"}),
                    Some(k.expose()),
                ),
            ),
            ("garbage", "not.a.jwt".to_owned()),
        ];
        for (what, jwt) in rejected {
            let err = verify(&k, "app_a", &jwt).expect_err(what);
            assert_eq!(err.code(), "invalid_session", "{what}");
        }
        // Tampered: the payload changed (another user) under the original signature.
        let (jwt, _) = issue(&k, "app_a", "alice", now(), 600).expect("issue");
        let parts: Vec<&str> = jwt.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        claims["sub"] = json!("mallory");
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert!(verify(&k, "app_a", &tampered).is_err(), "tampered");
        assert!(claimed_app(&forge(json!({"alg": "none", "kid": "app_a"}), good, None)).is_err());
    }

    proptest::proptest! {
        /// Any string, and any one-byte change to a real token, is refused as a session and
        /// nothing panics.
        #[test]
        fn garbage_and_tampered_tokens_are_refused(
            junk in ".{0,300}",
            at in 0usize..400,
            byte in proptest::prelude::any::<u8>(),
        ) {
            let key = app_key(&keys(), "app_1", 1);
            proptest::prop_assert!(verify(&key, "app_1", &junk).is_err());
            let _ = claimed_app(&junk);
            let (jwt, _) = issue(&key, "app_1", "u", now(), 60).expect("issue");
            let mut bytes = jwt.clone().into_bytes();
            let i = at % bytes.len();
            if bytes[i] != byte {
                bytes[i] = byte;
                let tampered = String::from_utf8_lossy(&bytes).into_owned();
                // A change inside base64 padding bits can decode to the same bytes: only a
                // token that differs after decoding must fail.
                if let Ok(claims) = verify(&key, "app_1", &tampered) {
                    proptest::prop_assert_eq!(claims.app, "app_1");
                    proptest::prop_assert_eq!(claims.sub, "u");
                }
            }
        }
    }
}
