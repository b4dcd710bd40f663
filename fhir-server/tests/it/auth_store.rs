//! The authorization server's storage (`fhir_server::auth::store`), called directly (no
//! HTTP) on the database of a fresh test server: single-use codes, refresh-token rotation
//! with reuse detection (RFC 6819 §5.2.2.3), expiry, revocation, launch contexts, signing
//! keys and client-assertion replay. Times are small made-up Unix seconds.

use fhir_server::auth::store::{AuthStore, KeyRow, RefreshOutcome, RefreshRow, UserRow};

use crate::backend_test;
use crate::support::TestServer;

/// The auth tables of the test server's database, through a second store on it.
async fn auth_store(s: &TestServer) -> AuthStore {
    let store = fhir_server::store::open(&s.database_url)
        .await
        .expect("store opens");
    AuthStore::new(store.reader())
}

const NOW: &str = "2026-01-01T00:00:00.000Z";

async fn clients(s: &TestServer) {
    let a = auth_store(s).await;
    assert_eq!(a.client("app").await.unwrap(), None);
    a.put_client(
        "app",
        r#"{"redirect_uris":["https://app.example/cb"]}"#,
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        a.client("app").await.unwrap().as_deref(),
        Some(r#"{"redirect_uris":["https://app.example/cb"]}"#)
    );
    // Put again replaces the record.
    a.put_client("app", r#"{"redirect_uris":[]}"#, "2026-02-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(
        a.client("app").await.unwrap().as_deref(),
        Some(r#"{"redirect_uris":[]}"#)
    );
    assert!(a.delete_client("app").await.unwrap());
    assert!(!a.delete_client("app").await.unwrap(), "already gone");
    assert_eq!(a.client("app").await.unwrap(), None);
}
backend_test!(clients_case, clients);

async fn users(s: &TestServer) {
    let a = auth_store(s).await;
    assert_eq!(a.user("alice").await.unwrap(), None);
    a.put_user("alice", "$argon2id$v=19$one", "Practitioner/p1", NOW)
        .await
        .unwrap();
    a.put_user("alice", "$argon2id$v=19$two", "Practitioner/p2", NOW)
        .await
        .unwrap();
    let user = a.user("alice").await.unwrap().unwrap();
    assert_eq!(
        user,
        UserRow {
            username: "alice".into(),
            password_hash: "$argon2id$v=19$two".into(),
            fhir_user: "Practitioner/p2".into(),
        }
    );
    assert!(
        !format!("{user:?}").contains("argon2"),
        "Debug hides the hash"
    );
    assert_eq!(a.user("Alice").await.unwrap(), None, "names are exact");
}
backend_test!(users_case, users);

async fn codes_are_single_use_and_expire(s: &TestServer) {
    let a = auth_store(s).await;
    a.put_code("h1", "grant-1", 1_000).await.unwrap();
    assert_eq!(
        a.take_code("h1", 999).await.unwrap().as_deref(),
        Some("grant-1")
    );
    assert_eq!(a.take_code("h1", 999).await.unwrap(), None, "second take");
    assert_eq!(a.take_code("unknown", 999).await.unwrap(), None);
    // Expired at its `expires_at`, and still unusable afterwards.
    a.put_code("h2", "grant-2", 1_000).await.unwrap();
    assert_eq!(a.take_code("h2", 1_000).await.unwrap(), None);
    assert_eq!(
        a.take_code("h2", 10).await.unwrap().as_deref(),
        Some("grant-2")
    );
}
backend_test!(
    codes_are_single_use_and_expire_case,
    codes_are_single_use_and_expire
);

async fn a_code_taken_concurrently_is_taken_once(s: &TestServer) {
    let a = auth_store(s).await;
    a.put_code("race", "grant", 1_000).await.unwrap();
    let takes: Vec<_> = (0..8)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move { a.take_code("race", 1).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in takes {
        if let Some(payload) = t.await.unwrap() {
            assert_eq!(payload, "grant");
            won += 1;
        }
    }
    assert_eq!(won, 1);
}
backend_test!(
    a_code_taken_concurrently_is_taken_once_case,
    a_code_taken_concurrently_is_taken_once
);

fn valid(family: &str, payload: &str) -> RefreshOutcome {
    RefreshOutcome::Valid(RefreshRow {
        family: family.into(),
        client_id: "app".into(),
        payload: payload.into(),
    })
}

async fn refresh_rotation_and_reuse_detection(s: &TestServer) {
    let a = auth_store(s).await;
    a.put_refresh("r1", "fam", "app", "g1", 1_000)
        .await
        .unwrap();
    a.put_refresh("other", "fam2", "app", "o1", 1_000)
        .await
        .unwrap();
    // Rotation: each token is redeemed once and replaced by the next of its family.
    assert_eq!(a.take_refresh("r1", 1).await.unwrap(), valid("fam", "g1"));
    a.put_refresh("r2", "fam", "app", "g2", 1_000)
        .await
        .unwrap();
    assert_eq!(a.take_refresh("r2", 2).await.unwrap(), valid("fam", "g2"));
    a.put_refresh("r3", "fam", "app", "g3", 1_000)
        .await
        .unwrap();
    // r1 presented again: reuse, so the whole family goes, r3 (live until now) included.
    assert_eq!(
        a.take_refresh("r1", 3).await.unwrap(),
        RefreshOutcome::Reused
    );
    assert_eq!(
        a.take_refresh("r3", 4).await.unwrap(),
        RefreshOutcome::Unknown
    );
    assert_eq!(
        a.take_refresh("r1", 5).await.unwrap(),
        RefreshOutcome::Reused
    );
    // Other families are untouched.
    assert_eq!(
        a.take_refresh("other", 6).await.unwrap(),
        valid("fam2", "o1")
    );
    assert_eq!(
        a.take_refresh("nope", 6).await.unwrap(),
        RefreshOutcome::Unknown
    );
}
backend_test!(
    refresh_rotation_and_reuse_detection_case,
    refresh_rotation_and_reuse_detection
);

async fn refresh_taken_concurrently_is_valid_once(s: &TestServer) {
    let a = auth_store(s).await;
    a.put_refresh("race", "fam", "app", "g", 1_000)
        .await
        .unwrap();
    a.put_refresh("sibling", "fam", "app", "g", 1_000)
        .await
        .unwrap();
    let takes: Vec<_> = (0..6)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move { a.take_refresh("race", 1).await.unwrap() })
        })
        .collect();
    let (mut valid_count, mut reused) = (0, 0);
    for t in takes {
        match t.await.unwrap() {
            RefreshOutcome::Valid(row) => {
                assert_eq!(row.family, "fam");
                valid_count += 1;
            }
            RefreshOutcome::Reused => reused += 1,
            RefreshOutcome::Unknown => panic!("the token exists"),
        }
    }
    assert_eq!((valid_count, reused), (1, 5));
    // The losers' reuse revoked the family.
    assert_eq!(
        a.take_refresh("sibling", 2).await.unwrap(),
        RefreshOutcome::Unknown
    );
}
backend_test!(
    refresh_taken_concurrently_is_valid_once_case,
    refresh_taken_concurrently_is_valid_once
);

async fn refresh_expiry_and_revocation(s: &TestServer) {
    let a = auth_store(s).await;
    // Expired at its `expires_at`; never used, so presenting it is no reuse.
    a.put_refresh("old", "f0", "app", "g", 100).await.unwrap();
    assert_eq!(
        a.take_refresh("old", 100).await.unwrap(),
        RefreshOutcome::Unknown
    );
    assert_eq!(
        a.take_refresh("old", 101).await.unwrap(),
        RefreshOutcome::Unknown
    );
    // Revoking one token revokes its family.
    a.put_refresh("a1", "f1", "app", "g", 1_000).await.unwrap();
    a.put_refresh("a2", "f1", "app", "g", 1_000).await.unwrap();
    assert!(a.revoke_refresh("a1").await.unwrap());
    assert!(!a.revoke_refresh("unknown").await.unwrap());
    assert_eq!(
        a.take_refresh("a1", 1).await.unwrap(),
        RefreshOutcome::Unknown
    );
    assert_eq!(
        a.take_refresh("a2", 1).await.unwrap(),
        RefreshOutcome::Unknown
    );
    // By family.
    a.put_refresh("b1", "f2", "app", "g", 1_000).await.unwrap();
    a.put_refresh("b2", "f2", "app", "g", 1_000).await.unwrap();
    assert_eq!(a.revoke_refresh_family("f2").await.unwrap(), 2);
    assert_eq!(a.revoke_refresh_family("none").await.unwrap(), 0);
    assert_eq!(
        a.take_refresh("b2", 1).await.unwrap(),
        RefreshOutcome::Unknown
    );
}
backend_test!(
    refresh_expiry_and_revocation_case,
    refresh_expiry_and_revocation
);

async fn access_token_revocation(s: &TestServer) {
    let a = auth_store(s).await;
    assert!(!a.is_access_revoked("jti-1").await.unwrap());
    a.revoke_access("jti-1", 1_000).await.unwrap();
    a.revoke_access("jti-1", 1_000).await.unwrap();
    assert!(a.is_access_revoked("jti-1").await.unwrap());
    assert!(!a.is_access_revoked("jti-2").await.unwrap());
}
backend_test!(access_token_revocation_case, access_token_revocation);

async fn launch_contexts_expire(s: &TestServer) {
    let a = auth_store(s).await;
    a.put_launch("L1", r#"{"patient":"123"}"#, 500)
        .await
        .unwrap();
    for now in [1, 499] {
        assert_eq!(
            a.launch("L1", now).await.unwrap().as_deref(),
            Some(r#"{"patient":"123"}"#),
            "read again at {now}: not consumed"
        );
    }
    assert_eq!(a.launch("L1", 500).await.unwrap(), None);
    assert_eq!(a.launch("L2", 1).await.unwrap(), None);
}
backend_test!(launch_contexts_expire_case, launch_contexts_expire);

async fn signing_keys_and_retirement(s: &TestServer) {
    let a = auth_store(s).await;
    // The server may have stored a key of its own at start-up: look at ours only.
    let ours = |keys: Vec<KeyRow>| -> Vec<KeyRow> {
        keys.into_iter()
            .filter(|k| k.kid.starts_with("test-"))
            .collect()
    };
    a.put_key("test-b", "RS384", "PEM-B", 200).await.unwrap();
    a.put_key("test-a", "ES384", "PEM-A", 100).await.unwrap();
    let key = |kid: &str, alg: &str, pem: &str, created_at, retired_at| KeyRow {
        kid: kid.into(),
        alg: alg.into(),
        private_pem: pem.into(),
        created_at,
        retired_at,
    };
    assert_eq!(
        ours(a.keys().await.unwrap()),
        [
            key("test-a", "ES384", "PEM-A", 100, None),
            key("test-b", "RS384", "PEM-B", 200, None)
        ],
        "oldest first"
    );
    assert!(a.retire_key("test-a", 300).await.unwrap());
    assert!(
        !a.retire_key("test-a", 400).await.unwrap(),
        "already retired"
    );
    assert!(!a.retire_key("test-none", 400).await.unwrap());
    assert_eq!(
        ours(a.keys().await.unwrap()),
        [
            key("test-a", "ES384", "PEM-A", 100, Some(300)),
            key("test-b", "RS384", "PEM-B", 200, None)
        ]
    );
    assert!(
        !format!("{:?}", a.keys().await.unwrap()).contains("PEM-"),
        "Debug hides private keys"
    );
}
backend_test!(
    signing_keys_and_retirement_case,
    signing_keys_and_retirement
);

async fn client_assertion_replay(s: &TestServer) {
    let a = auth_store(s).await;
    assert!(a.remember_assertion_jti("j1", 200, 100).await.unwrap());
    assert!(
        !a.remember_assertion_jti("j1", 200, 150).await.unwrap(),
        "replay"
    );
    assert!(a.remember_assertion_jti("j2", 200, 150).await.unwrap());
    // Once expired, the jti is forgotten (the assertion's own `exp` refuses it anyway).
    assert!(a.remember_assertion_jti("j1", 400, 200).await.unwrap());
    assert!(!a.remember_assertion_jti("j1", 400, 300).await.unwrap());
}
backend_test!(client_assertion_replay_case, client_assertion_replay);

async fn purging_expired_rows(s: &TestServer) {
    let a = auth_store(s).await;
    for (suffix, expires_at) in [("old", 100), ("new", 1_000)] {
        a.put_code(&format!("code-{suffix}"), "g", expires_at)
            .await
            .unwrap();
        a.put_refresh(&format!("rt-{suffix}"), suffix, "app", "g", expires_at)
            .await
            .unwrap();
        a.revoke_access(&format!("jti-{suffix}"), expires_at)
            .await
            .unwrap();
        a.put_launch(&format!("launch-{suffix}"), "ctx", expires_at)
            .await
            .unwrap();
        assert!(
            a.remember_assertion_jti(&format!("aj-{suffix}"), expires_at, 50)
                .await
                .unwrap()
        );
    }
    assert_eq!(a.purge_expired(500).await.unwrap(), 5);
    assert_eq!(a.purge_expired(500).await.unwrap(), 0);
    // The expired rows are gone (a revoked jti past its expiry is no longer listed)…
    assert!(!a.is_access_revoked("jti-old").await.unwrap());
    assert!(a.remember_assertion_jti("aj-old", 900, 50).await.unwrap());
    assert_eq!(a.take_code("code-old", 50).await.unwrap(), None);
    // …and the live ones stay.
    assert!(a.is_access_revoked("jti-new").await.unwrap());
    assert!(
        !a.remember_assertion_jti("aj-new", 1_000, 600)
            .await
            .unwrap()
    );
    assert_eq!(
        a.take_code("code-new", 600).await.unwrap().as_deref(),
        Some("g")
    );
    assert_eq!(
        a.take_refresh("rt-new", 600).await.unwrap(),
        valid("new", "g")
    );
    assert_eq!(
        a.launch("launch-new", 600).await.unwrap().as_deref(),
        Some("ctx")
    );
}
backend_test!(purging_expired_rows_case, purging_expired_rows);
