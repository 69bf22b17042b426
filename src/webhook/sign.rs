//! Standard Webhooks signing (<https://www.standardwebhooks.com/>).
//!
//! Receivers verify our webhooks with the same off-the-shelf libraries they
//! use for Svix, Clerk or Resend, so the format follows the spec exactly:
//! secrets are `whsec_` + base64 of the key, the signed content is
//! `{msg_id}.{timestamp}.{body}` and the header value is `v1,<base64 HMAC>`.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::distr::Alphanumeric;
use rand::{Rng, RngCore};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix the spec gives secrets, so that they are recognisable in configs.
const SECRET_PREFIX: &str = "whsec_";

/// The only signature version the spec defines (symmetric HMAC-SHA256).
const SIGNATURE_VERSION: &str = "v1";

/// A new signing secret: `whsec_` + standard base64 of 32 random bytes.
/// 32 bytes is the HMAC-SHA256 block-size sweet spot and what Svix issues.
pub fn generate_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// A new message id: `msg_` + 24 random alphanumeric characters (~142 bits),
/// enough that receivers can deduplicate redeliveries by id alone.
pub fn new_message_id() -> String {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("msg_{suffix}")
}

/// The HMAC key inside a secret. Like the reference libraries, a secret
/// without the `whsec_` prefix is taken as bare base64. The error never
/// quotes the secret, because it may end up in logs.
fn secret_key(secret: &str) -> anyhow::Result<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .context("webhook secret is not valid base64 after \"whsec_\"")?;
    if key.is_empty() {
        bail!("webhook secret is empty");
    }
    Ok(key)
}

/// The MAC over the spec's signed content, ready to finalise or verify.
fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).context("unusable webhook secret")?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// Standard Webhooks signature (<https://www.standardwebhooks.com/>):
/// HMAC-SHA256 keyed with the base64-decoded part of the secret after
/// `whsec_`, over `{msg_id}.{timestamp}.{body}`, answered as
/// `v1,<standard base64>`. Err only if the secret is malformed.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<String> {
    let key = secret_key(secret)?;
    let tag = mac(&key, msg_id, timestamp, body)?.finalize().into_bytes();
    Ok(format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag)))
}

/// Receiver side (used by tests and shown in the README): true when any
/// space-separated `v1,...` entry of `signature_header` matches. Several
/// entries exist while a secret is being rotated. The comparison is constant
/// time (`verify_slice`), so timing does not leak how much of a guess matched.
///
/// This checks authenticity only; a receiver should also reject timestamps
/// far from its clock (the spec suggests 5 minutes) to stop replays.
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    signature_header: &str,
) -> bool {
    let Ok(key) = secret_key(secret) else {
        return false;
    };
    let Ok(expected) = mac(&key, msg_id, timestamp, body) else {
        return false;
    };
    signature_header.split_whitespace().any(|entry| {
        let Some((version, encoded)) = entry.split_once(',') else {
            return false;
        };
        if version != SIGNATURE_VERSION {
            return false;
        }
        match STANDARD.decode(encoded) {
            Ok(candidate) => expected.clone().verify_slice(&candidate).is_ok(),
            Err(_) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example published with the Standard Webhooks spec.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn matches_the_spec_example() {
        let signature = sign(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY).expect("signs");
        assert_eq!(signature, SPEC_SIGNATURE);
        assert!(verify(
            SPEC_SECRET,
            SPEC_MSG_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE
        ));
    }

    #[test]
    fn roundtrip_with_a_generated_secret() {
        let secret = generate_secret();
        let msg_id = new_message_id();
        let body = br#"{"event":"call.ended","id":42}"#;
        let signature = sign(&secret, &msg_id, 1_700_000_000, body).expect("signs");
        assert!(signature.starts_with("v1,"));
        assert!(verify(&secret, &msg_id, 1_700_000_000, body, &signature));
    }

    #[test]
    fn rejects_anything_tampered_with() {
        let ok = |body: &[u8], secret: &str, msg_id: &str, timestamp: i64, header: &str| {
            verify(secret, msg_id, timestamp, body, header)
        };
        let (s, m, t, b) = (SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY);
        let h = SPEC_SIGNATURE;
        assert!(!ok(br#"{"test": 2432232315}"#, s, m, t, h), "tampered body");
        assert!(!ok(b, &generate_secret(), m, t, h), "other secret");
        assert!(!ok(b, s, "msg_other", t, h), "other message id");
        assert!(!ok(b, s, m, t + 1, h), "other timestamp");
        assert!(
            !ok(
                b,
                s,
                m,
                t,
                "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
            ),
            "version"
        );
        assert!(!ok(b, s, m, t, ""), "empty header");
        assert!(!ok(b, s, m, t, "v1,not-base64!"), "garbage");
        assert!(!ok(b, "whsec_%%%", m, t, h), "malformed secret");
    }

    #[test]
    fn accepts_any_matching_entry_of_a_rotation_header() {
        let header = format!("v1,AAAA v1a,xyz {SPEC_SIGNATURE}");
        assert!(verify(
            SPEC_SECRET,
            SPEC_MSG_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            &header
        ));
    }

    #[test]
    fn malformed_secrets_are_errors_that_do_not_quote_the_secret() {
        for secret in ["whsec_not base64!", "whsec_", ""] {
            let error = sign(secret, "msg_1", 1, b"{}")
                .expect_err("malformed")
                .to_string();
            assert!(error.contains("webhook secret"), "{error}");
            assert!(secret.is_empty() || !error.contains(secret), "{error}");
        }
    }

    #[test]
    fn secrets_and_ids_have_the_documented_shape() {
        let secret = generate_secret();
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("prefixed"))
            .expect("base64");
        assert_eq!(key.len(), 32);
        assert_ne!(secret, generate_secret());

        let id = new_message_id();
        let suffix = id.strip_prefix("msg_").expect("prefixed");
        assert_eq!(suffix.len(), 24);
        assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(id, new_message_id());
    }
}
