//! Several `serve` processes on one database: nothing may depend on state
//! kept inside one of them (ids, uniqueness, counts, token checks).

use serde_json::json;

use crate::helpers::{TestApp, call, spawn_on};

async fn two_servers_share_one_database(a: TestApp) {
    let b = spawn_on(a.backend, a.database(), |_| {}).await;
    let (alice, token) = a.user("alice@example.com").await;
    // A user made through one server is known to the other, and so is the token.
    let bob = b
        .store
        .create_user("bob@example.com", "Bob")
        .await
        .expect("bob");
    let (bob_token_id, bob_token) = callbase::token::issue(
        b.store.as_ref(),
        &bob,
        "t",
        None,
        callbase::store::Scope::Write,
    )
    .await
    .expect("token");
    assert_eq!(a.list(&bob_token, "").await.status, 200);
    // Emails stay unique across servers.
    assert!(
        b.store
            .create_user("ALICE@example.com", "Again")
            .await
            .is_err()
    );

    // Writes through both, interleaved and concurrent; reads through both.
    let alices: Vec<_> = (1..=40)
        .map(|i| call(i, json!({"status": "completed"})))
        .collect();
    let bobs: Vec<_> = (41..=60)
        .map(|i| call(i, json!({"status": "busy"})))
        .collect();
    let import_a = a.import(&alice, &alices);
    let import_b = b.import(&bob, &bobs);
    let (sa, sb) = tokio::join!(import_a, import_b);
    assert_eq!((sa.imported, sb.imported), (40, 20));
    for server in [&a, &b] {
        assert_eq!(server.list(&token, "").await.body["total"], 40);
        assert_eq!(
            server.list(&bob_token, "status=busy").await.body["total"],
            20
        );
    }
    // An id owned through one server cannot be taken through the other.
    let mut rejected = Vec::new();
    let stolen = callbase::import::import_source(
        b.store.as_ref(),
        bob.id,
        std::io::Cursor::new(format!("{}\n", call(7, json!({}))).into_bytes()),
        |r| rejected.push(r.reason.clone()),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!((stolen.rejected, rejected.len()), (1, 1));

    // Delete through one, gone through the other; counts agree everywhere.
    assert_eq!(b.delete("/api/user/calls/7", &token).await.status, 200);
    assert_eq!(a.get("/api/user/calls/7", &token).await.status, 404);
    assert_eq!(a.delete("/api/user/calls/7", &token).await.status, 404);
    for server in [&a, &b] {
        let page = server.list(&token, "per_page=100").await;
        assert_eq!(page.body["total"], 39);
        assert_eq!(page.ids().len(), 39);
    }

    // Concurrent re-imports of the same calls through both servers: each call
    // exists once, whoever won.
    let again: Vec<_> = (100..=130).map(|i| call(i, json!({}))).collect();
    let (x, y) = tokio::join!(a.import(&alice, &again), b.import(&alice, &again));
    assert_eq!(x.imported + y.imported, 31);
    assert_eq!(x.imported + x.unchanged, 31);
    assert_eq!(y.imported + y.unchanged, 31);
    assert_eq!(b.list(&token, "").await.body["total"], 70);

    // Revoking through one server stops the token on the other at once.
    assert!(a.store.revoke_token(bob_token_id).await.expect("revoke"));
    assert_eq!(b.list(&bob_token, "").await.status, 401);
    assert_eq!(a.list(&bob_token, "").await.status, 401);
}

/// Imports through two servers at once, over the same ids and new names in
/// opposite orders: no deadlock surfaces, every call exists once.
async fn crossing_imports_do_not_deadlock(a: TestApp) {
    let b = spawn_on(a.backend, a.database(), |_| {}).await;
    let (alice, token) = a.user("alice@example.com").await;
    for round in 0..4i64 {
        let base = round * 1000;
        let forward: Vec<_> = (1..=300)
            .map(|i| call(base + i, json!({"assistant_name": format!("R{round}-{}", i % 7), "campaign_name": format!("C{}", i % 5)})))
            .collect();
        let backward: Vec<_> = forward.iter().rev().cloned().collect();
        let (x, y) = tokio::join!(a.import(&alice, &forward), b.import(&alice, &backward));
        assert_eq!(x.imported + y.imported, 300, "round {round}");
        assert_eq!(x.rejected + y.rejected, 0);
    }
    assert_eq!(b.list(&token, "").await.body["total"], 1200);
    let assistants = a
        .get("/api/user/assistants/get?per_page=100", &token)
        .await
        .body;
    assert_eq!(assistants["total"], 28, "each name once");
}

backend_tests!(
    two_servers_share_one_database,
    crossing_imports_do_not_deadlock
);
