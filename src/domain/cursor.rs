//! Cursors of the cursor paginator (CONTRACT §8): where a page ends, in the
//! list's order, and which filters and sort the walk is bound to.
//!
//! A cursor is base64url of a small JSON object: the sort, the sort key and
//! id of the row it points past, its direction (Laravel's
//! `_pointsToNextItems`), and a fingerprint of the filters. Nothing in it is
//! secret or trusted: a changed cursor can only move within the caller's own
//! calls, and one that does not decode, or was made for other filters or
//! another sort, is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::listing::Sort;

/// A row's place in a sorted list: its sort value (`created_at`, `duration`,
/// or `total_cost` in 10^-8 units, `None` for a call without a cost) and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub value: Option<i64>,
    pub id: i64,
}

/// Where a cursor page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The row the page starts after (forward) or before (backward).
    pub key: SortKey,
    /// Laravel's `_pointsToNextItems`: the rows after `key` in the list's
    /// order; false for the rows before it (a previous page).
    pub forward: bool,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    /// The sort, as the `sort` parameter spells it.
    s: String,
    v: Option<i64>,
    i: i64,
    n: bool,
    /// [`fingerprint`] of the filters.
    f: String,
}

/// What binds a cursor to its request: a hash of the filter parameters and
/// the sort as sent (`echo`: names and values, without paging and shape
/// parameters), whatever their order.
pub fn fingerprint(echo: &[(String, String)], ignore: &[&str]) -> String {
    let mut kept: Vec<&(String, String)> = echo
        .iter()
        .filter(|(k, _)| !ignore.contains(&k.as_str()))
        .collect();
    kept.sort();
    let mut hash = Sha256::new();
    for (key, value) in kept {
        hash.update(key.as_bytes());
        hash.update([0]);
        hash.update(value.as_bytes());
        hash.update([0]);
    }
    URL_SAFE_NO_PAD.encode(&hash.finalize()[..12])
}

impl Cursor {
    pub fn encode(&self, sort: Sort, fingerprint: &str) -> String {
        let wire = Wire {
            s: sort.as_str().to_owned(),
            v: self.key.value,
            i: self.key.id,
            n: self.forward,
            f: fingerprint.to_owned(),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    /// The cursor, if `text` is one made for this sort and these filters.
    pub fn decode(text: &str, sort: Sort, fingerprint: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
        let wire: Wire = serde_json::from_slice(&bytes).ok()?;
        // A created_at or duration cursor always has a value.
        let value_ok = wire.v.is_some() || matches!(sort, Sort::CostAsc | Sort::CostDesc);
        (wire.s == sort.as_str() && wire.f == fingerprint && value_ok).then_some(Self {
            key: SortKey {
                value: wire.v,
                id: wire.i,
            },
            forward: wire.n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn round_trip_and_binding() {
        let fp = fingerprint(
            &pairs(&[("status", "completed"), ("type", "web"), ("per_page", "5")]),
            &["per_page"],
        );
        // Order does not matter; ignored parameters do not count.
        assert_eq!(
            fp,
            fingerprint(
                &pairs(&[("type", "web"), ("status", "completed")]),
                &["per_page"]
            )
        );
        let other = fingerprint(
            &pairs(&[("status", "failed"), ("type", "web")]),
            &["per_page"],
        );
        assert_ne!(fp, other);
        let cursor = Cursor {
            key: SortKey {
                value: Some(1_705_314_600),
                id: 42,
            },
            forward: true,
        };
        let text = cursor.encode(Sort::CreatedDesc, &fp);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&text, Sort::CreatedDesc, &fp), Some(cursor));
        assert_eq!(Cursor::decode(&text, Sort::CreatedDesc, &other), None);
        assert_eq!(Cursor::decode(&text, Sort::DurationDesc, &fp), None);
        assert_eq!(Cursor::decode("nonsense", Sort::CreatedDesc, &fp), None);
        assert_eq!(Cursor::decode("", Sort::CreatedDesc, &fp), None);
    }
}
