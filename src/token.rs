//! API tokens: 32 random bytes shown once, stored only as a SHA-256 hash.
//! A plain (unsalted) hash is enough here: with 256 bits of entropy there is
//! nothing to guess, and lookups stay a single indexed equality.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::timefmt::now_unix;
use crate::store::{NewToken, Scope, Store, User};

/// Every token starts so, which makes leaked ones easy to scan for.
pub const TOKEN_PREFIX: &str = "cb_";

/// Characters of a token kept in clear to tell tokens apart in listings.
pub const DISPLAY_PREFIX_LEN: usize = 10;

/// A new secret token, e.g. `cb_Vq3...` (46 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash a token is stored and looked up by.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The part of a token shown in listings.
pub fn display_prefix(token: &str) -> String {
    token.chars().take(DISPLAY_PREFIX_LEN).collect()
}

/// Creates a token for a user; returns its id and the secret, which exists
/// nowhere else from now on.
pub async fn issue(
    store: &dyn Store,
    user: &User,
    name: &str,
    expires_in_days: Option<u32>,
    scope: Scope,
) -> anyhow::Result<(i64, String)> {
    let secret = generate();
    let token = store
        .create_token(NewToken {
            user_id: user.id,
            name: name.to_owned(),
            hash: hash(&secret),
            prefix: display_prefix(&secret),
            expires_at: expires_in_days.map(|days| now_unix() + i64::from(days) * 86_400),
            scope,
        })
        .await?;
    Ok((token.id, secret))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_long_random_and_hashable() {
        let (a, b) = (super::generate(), super::generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 46);
        assert!(a.starts_with("cb_"));
        assert_eq!(super::hash(&a), super::hash(&a.clone()));
        assert_ne!(super::hash(&a), super::hash(&b));
    }
}
