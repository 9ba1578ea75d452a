//! Route tokens and random ids: generation from the OS CSPRNG, SHA-256 lookup hashes, sealing so
//! a link can be shown again, and constant-time comparison.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::secret::{Keys, Sensitive};

/// Length of a route token: 32 random bytes as base64url without padding.
pub const TOKEN_LEN: usize = 43;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS CSPRNG failing means the machine cannot make secrets at all; nothing can recover.
    getrandom::fill(&mut buf).expect("the OS random number generator failed");
    buf
}

/// A new route token.
pub fn generate() -> Sensitive<String> {
    Sensitive::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// An unguessable id for conversations, turns and messages (128 bits).
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// Cheap shape check before any lookup, so junk never reaches the database.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == TOKEN_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` could be an id from [`random_id`]; anything else is rejected before a lookup.
pub fn looks_like_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The lookup key stored in the database instead of the token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Encrypts a token for storage; the hash is bound in as associated data so a sealed value cannot
/// be moved to another row.
pub fn seal(keys: &Keys, token: &Sensitive<String>) -> Result<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(keys.seal.expose().into());
    let nonce = random_bytes::<12>();
    let aad = hash(token.expose());
    let mut out = nonce.to_vec();
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: token.expose().as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| Error::Internal("sealing a token failed".into()))?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts a sealed token; fails if the key or the row does not match.
pub fn open(keys: &Keys, sealed: &[u8], expected_hash: &[u8]) -> Result<Sensitive<String>> {
    let fail = || Error::SecretStore("a stored link cannot be opened with this master key".into());
    if sealed.len() < 12 {
        return Err(fail());
    }
    let (nonce, body) = sealed.split_at(12);
    let cipher = ChaCha20Poly1305::new(keys.seal.expose().into());
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: expected_hash,
            },
        )
        .map_err(|_| fail())?;
    String::from_utf8(plain)
        .map(Sensitive::new)
        .map_err(|_| fail())
}

pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{MemoryStore, load_or_create_master_key};

    #[test]
    fn tokens_are_43_url_safe_chars_and_unique() {
        let a = generate();
        let b = generate();
        assert_eq!(a.expose().len(), TOKEN_LEN);
        assert!(looks_like_token(a.expose()));
        assert_ne!(a.expose(), b.expose());
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(
            &"a".repeat(42).chars().chain(['/']).collect::<String>()
        ));
        assert_eq!(random_id().len(), 22);
    }

    #[test]
    fn seal_round_trips_and_rejects_other_keys_and_rows() {
        let store = MemoryStore::default();
        let keys = load_or_create_master_key(&store, "a").expect("keys");
        let other = load_or_create_master_key(&store, "b").expect("keys");
        let t = generate();
        let h = hash(t.expose());
        let sealed = seal(&keys, &t).expect("seal");
        assert!(
            !sealed
                .windows(TOKEN_LEN)
                .any(|w| w == t.expose().as_bytes())
        );
        assert_eq!(open(&keys, &sealed, &h).expect("open").expose(), t.expose());
        assert!(open(&other, &sealed, &h).is_err());
        assert!(open(&keys, &sealed, &hash("another")).is_err());
        assert!(open(&keys, &sealed[..5], &h).is_err());
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    proptest::proptest! {
        /// Route tokens a stranger types: only 43 URL-safe characters look like one, and
        /// opening a sealed token with any bytes fails without panicking.
        #[test]
        fn strangers_tokens_and_sealed_bytes_never_panic(text in "\\PC{0,60}", sealed in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
            if looks_like_token(&text) {
                proptest::prop_assert_eq!(text.len(), 43);
                proptest::prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            }
            let keys = crate::secret::load_or_create_master_key(&crate::secret::MemoryStore::default(), "t").expect("keys");
            proptest::prop_assert!(open(&keys, &sealed, &hash(&text)).is_err());
        }
    }
}
