//! Running the authorization server: signing-key rotation across two server instances on
//! one database, a signing key from a PEM file, clients registered from a clients file,
//! and a RelatedPerson user acting for their patient.

use fhir_server::config::AuthMode;
use serde_json::{Value, json};

use crate::smart_support::*;
use crate::smart_test;
use crate::support::TestServer;

/// A second server instance on `server`'s database, with SMART on and the same public
/// base URL (instances behind one address, as a deployment runs them).
async fn second_instance(
    server: &TestServer,
    edit: impl FnOnce(&mut fhir_server::Config),
) -> fhir_server::RunningServer {
    let mut config = fhir_server::Config::for_tests(server.database_url.clone());
    config.auth = AuthMode::Smart;
    config.base_url = Some(server.base.clone());
    edit(&mut config);
    fhir_server::start(config)
        .await
        .expect("a second instance starts")
}

/// The `kid` of a compact JWS.
fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(jwks_url: &str) -> Vec<String> {
    let jwks: Value = reqwest::get(jwks_url).await.unwrap().json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// `fhir-server key rotate`: a new key signs (at an instance's next start), tokens signed
/// with the old one keep working until they expire, both are in the JWKS, and an instance
/// still on the old key accepts tokens of the new one (it re-reads the keys).
async fn key_rotation(server: &TestServer) {
    add_user(server, "doc", "doctor-password", "Practitioner/d1").await;
    let old = standalone_token(server, "app", "doc", "doctor-password", "user/*.rs").await;
    let old = old["access_token"].as_str().unwrap().to_owned();
    let old_kid = kid_of(&old);

    let store = server.admin_store().await;
    let auth = fhir_server::auth::store::AuthStore::new(store.reader());
    let new_kid = fhir_server::auth::service::rotate_key(&auth).await.unwrap();
    assert_ne!(new_kid, old_kid);

    // A second instance starts after the rotation: it signs with the new key.
    let second = second_instance(server, |_| {}).await;
    let origin = format!("http://{}", second.addr);
    let params = authorize_params(server, "app", "user/*.rs");
    let location = authorize_at(
        &format!("{origin}/auth/authorize"),
        &params,
        "doc",
        "doctor-password",
        None,
        None,
    )
    .await;
    let code = query_param(&location, "code").unwrap();
    let token: Value = reqwest::Client::new()
        .post(format!("{origin}/auth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "app"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        kid_of(&new),
        new_kid,
        "the second instance signs with the new key"
    );

    // Both keys are published, by either instance.
    for jwks in [auth_url(server, "jwks"), format!("{origin}/auth/jwks")] {
        let kids = jwks_kids(&jwks).await;
        assert!(
            kids.contains(&old_kid) && kids.contains(&new_kid),
            "{kids:?}"
        );
    }
    let on_second = |token: String| {
        let url = format!("{origin}/fhir/Patient");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // The old key's token still works on both instances; the first instance, started
    // before the rotation, takes up the new key when it meets a token signed with it.
    assert_eq!(get_with(server, &old, "Patient").await.status, 200);
    assert_eq!(on_second(old.clone()).await, 200);
    assert_eq!(get_with(server, &new, "Patient").await.status, 200);
    assert_eq!(on_second(new).await, 200);
    second.shutdown().await;
}

smart_test!(key_rotation_case, key_rotation);

/// `--signing-key-file`: the key comes from the PEM file (its `kid` signs, the JWKS lists
/// it) and is not stored.
async fn signing_key_from_file(server: &TestServer) {
    let key = smart_auth::SigningKey::generate(smart_auth::SigningAlgorithm::Es384).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signing-key.pem");
    std::fs::write(&path, key.to_pem().unwrap()).unwrap();
    let second = second_instance(server, |c| c.signing_key_file = Some(path.clone())).await;
    let origin = format!("http://{}", second.addr);
    let kids = jwks_kids(&format!("{origin}/auth/jwks")).await;
    assert!(kids.contains(&key.kid().to_owned()), "{kids:?}");
    let store = server.admin_store().await;
    let stored = fhir_server::auth::store::AuthStore::new(store.reader())
        .keys()
        .await
        .unwrap();
    assert!(
        stored.iter().all(|k| k.kid != key.kid()),
        "a file key is not stored"
    );
    second.shutdown().await;
}

smart_test!(signing_key_from_file_case, signing_key_from_file);

/// `--clients-file`: the clients of the file are registered at start, as `client add`
/// registers them; a bad file stops the start with a reason.
async fn clients_file(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clients.json");
    std::fs::write(
        &path,
        json!([
            {"client_id": "file-public", "name": "From a file", "public": true,
             "redirect_uris": [REDIRECT]},
            {"client_id": "file-secret", "secret": "a-secret-of-24-characters",
             "redirect_uris": [REDIRECT], "scope": "launch/patient patient/*.rs"}
        ])
        .to_string(),
    )
    .unwrap();
    let second = second_instance(server, |c| c.clients_file = Some(path.clone())).await;
    second.shutdown().await;
    let store = server.admin_store().await;
    let auth = fhir_server::auth::store::AuthStore::new(store.reader());
    let public: smart_auth::Client =
        serde_json::from_str(&auth.client("file-public").await.unwrap().unwrap()).unwrap();
    assert_eq!(public.auth, smart_auth::ClientAuth::Public);
    assert_eq!(public.redirect_uris, [REDIRECT]);
    let secret: smart_auth::Client =
        serde_json::from_str(&auth.client("file-secret").await.unwrap().unwrap()).unwrap();
    let smart_auth::ClientAuth::Secret { secret_hash } = &secret.auth else {
        panic!("a secret client: {secret:?}");
    };
    assert!(smart_auth::passwords::verify_password(
        "a-secret-of-24-characters",
        secret_hash
    ));
    assert_eq!(
        secret.scope.unwrap().to_string(),
        "launch/patient patient/*.rs"
    );
    // A client that says two ways to authenticate is refused, and the server does not start.
    std::fs::write(
        &path,
        json!([{"client_id": "both", "public": true, "secret": "a-secret-of-24-characters"}])
            .to_string(),
    )
    .unwrap();
    let mut config = fhir_server::Config::for_tests(server.database_url.clone());
    config.auth = AuthMode::Smart;
    config.clients_file = Some(path);
    let refused = fhir_server::start(config).await;
    assert!(refused.is_err(), "a bad clients file stops the start");
}

smart_test!(clients_file_case, clients_file);

/// A RelatedPerson user (a parent, say) acts for the patient their RelatedPerson names:
/// the token carries that patient, and `user/` scopes reach that patient's compartment.
async fn related_person_user(server: &TestServer) {
    // Data through a clinician's token.
    add_user(server, "doc", "doctor-password", "Practitioner/d1").await;
    let doc = standalone_token(server, "app", "doc", "doctor-password", "user/*.cruds").await;
    let doc = doc["access_token"].as_str().unwrap().to_owned();
    for body in [
        json!({"resourceType": "Patient", "id": "kid"}),
        json!({"resourceType": "Patient", "id": "other"}),
        json!({"resourceType": "RelatedPerson", "id": "parent", "patient": {"reference": "Patient/kid"}}),
        json!({"resourceType": "Observation", "id": "o-kid", "status": "final",
               "code": {"text": "weight"}, "subject": {"reference": "Patient/kid"}}),
        json!({"resourceType": "Observation", "id": "o-other", "status": "final",
               "code": {"text": "weight"}, "subject": {"reference": "Patient/other"}}),
    ] {
        let path = format!(
            "{}/{}",
            body["resourceType"].as_str().unwrap(),
            body["id"].as_str().unwrap()
        );
        let r = server
            .request(reqwest::Method::PUT, &path)
            .bearer_auth(&doc)
            .header("content-type", "application/fhir+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{path}");
    }
    add_user(server, "parent", "parent-password", "RelatedPerson/parent").await;
    let token = standalone_token(
        server,
        "app",
        "parent",
        "parent-password",
        "openid fhirUser user/*.rs",
    )
    .await;
    assert_eq!(token["patient"], "kid");
    let access = token["access_token"].as_str().unwrap();
    let bundle = get_with(server, access, "Observation").await.json();
    let ids: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["o-kid"]);
    assert_eq!(
        get_with(server, access, "Observation/o-other").await.status,
        404
    );
    assert_eq!(get_with(server, access, "Patient/other").await.status, 404);
    assert_eq!(get_with(server, access, "Patient/kid").await.status, 200);
}

smart_test!(related_person_user_case, related_person_user);
