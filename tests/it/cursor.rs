//! The cursor paginator's guarantee (CONTRACT §8): walking `next_page_url`
//! to the end visits every call that existed at the start and still exists
//! exactly once, however many calls are created, deleted or updated (sort
//! keys left as they were) meanwhile, by another server on the same
//! database.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use crate::helpers::{TestApp, call, spawn_on};

const CALLS: i64 = 240;

fn at(n: i64) -> String {
    callbase::domain::timefmt::format_rfc3339(1_704_067_200 + n * 3_600)
}

async fn walks_see_every_surviving_call_once(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    // Ties on purpose: three calls per hour, and durations from a few values.
    let initial: Vec<_> = (1..=CALLS)
        .map(|id| {
            call(
                id,
                json!({"created_at": at(id / 3), "duration": (id * 7) % 5 * 30}),
            )
        })
        .collect();
    app.import(&alice, &initial).await;
    let writer = spawn_on(app.backend, app.database(), |_| {}).await;

    for (round, sort) in ["-created_at", "created_at", "-duration", "total_cost"]
        .iter()
        .enumerate()
    {
        let existing: HashSet<i64> = {
            let ids = app.all_ids(&token, "").await;
            ids.into_iter().collect()
        };
        // Writes while the walk goes: new calls before, inside and after the
        // range walked, deletions of calls not seen yet and seen already,
        // and updates that keep every sort key.
        let writes = {
            let writer_client = writer.client.clone();
            let base = writer.url("");
            let token = token.clone();
            let victims: Vec<i64> = existing
                .iter()
                .copied()
                .filter(|id| id % 9 == round as i64)
                .collect();
            let store = writer.store.clone();
            let user = alice.clone();
            tokio::spawn(async move {
                let mut deleted = Vec::new();
                for (i, victim) in victims.iter().enumerate() {
                    let id = 10_000 + (round as i64) * 1_000 + i as i64;
                    let fresh = call(
                        id,
                        json!({"created_at": at((i as i64 * 37) % (CALLS / 2) - 10), "duration": 30}),
                    );
                    // The next call changes, its sort keys stay.
                    // (Only the first calls' keys are known here; a call
                    // created meanwhile has others.)
                    let other = (victim % CALLS) + 1;
                    let changed = call(
                        other,
                        json!({"created_at": at(other / 3), "duration": (other * 7) % 5 * 30, "status": "failed"}),
                    );
                    let text = format!("{fresh}\n{changed}\n");
                    callbase::import::import_source(
                        store.as_ref(),
                        user.id,
                        std::io::Cursor::new(text.into_bytes()),
                        |r| panic!("rejected: {}", r.reason),
                        |_| {},
                    )
                    .await
                    .expect("import");
                    let answer = writer_client
                        .delete(format!("{base}/api/user/calls/{victim}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("delete");
                    assert_eq!(answer.status(), 200);
                    deleted.push(*victim);
                    tokio::task::yield_now().await;
                }
                deleted
            })
        };
        let mut seen: HashMap<i64, usize> = HashMap::new();
        let mut path = format!("/api/user/calls?paginate=cursor&per_page=7&fields=id&sort={sort}");
        loop {
            let answer = app.get(&path, &token).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
            for id in answer.ids() {
                *seen.entry(id).or_default() += 1;
            }
            let Some(next) = answer.body["next_page_url"].as_str() else {
                break;
            };
            path = next
                .split_once("/api/")
                .map(|(_, p)| format!("/api/{p}"))
                .expect("path");
        }
        let deleted: HashSet<i64> = writes.await.expect("writes").into_iter().collect();
        assert!(!deleted.is_empty());
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{sort}: seen more than once: {twice:?}");
        let missed: Vec<_> = existing
            .difference(&deleted)
            .filter(|id| !seen.contains_key(id))
            .collect();
        assert!(missed.is_empty(), "{sort}: missed {missed:?}");
    }
}

backend_tests!(walks_see_every_surviving_call_once);
