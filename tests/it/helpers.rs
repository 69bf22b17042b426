//! Test harness: `spawn_app`, a typed client, and call fixtures.

use std::net::SocketAddr;
use std::sync::Arc;

use callbase::app::{self, Settings};
use callbase::store::{self, Store, User};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Registers `async fn name(app: TestApp)` tests once per storage backend.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await;
                }
            )+
        }
    };
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
}

/// A running server with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub database_url: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// A status, headers and parsed JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body as sent, for checks of key order.
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ids of a list answer's `data`.
    pub fn ids(&self) -> Vec<i64> {
        self.body["data"].as_array().map_or_else(Vec::new, |rows| {
            rows.iter().filter_map(|r| r["id"].as_i64()).collect()
        })
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts a server, letting the test adjust its settings first.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("test.db").display()),
    };
    let store = store::connect(&database_url).await.expect("database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut settings = Settings::new(format!("http://{addr}"));
    adjust(&mut settings);
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app::serve(listener, store.clone(), settings, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        store,
        database_url,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates a user and a token for them.
    pub async fn user(&self, email: &str) -> (User, String) {
        let user = self
            .store
            .create_user(email, "Test User")
            .await
            .expect("user");
        let (_, token) = callbase::token::issue(self.store.as_ref(), &user, "test", None)
            .await
            .expect("token");
        (user, token)
    }

    /// Imports calls (JSON objects) for a user through the real import path.
    pub async fn import(&self, user: &User, calls: &[Value]) -> callbase::import::Summary {
        let text: String = calls.iter().map(|c| format!("{c}\n")).collect();
        callbase::import::import_source(
            self.store.as_ref(),
            user.id,
            std::io::Cursor::new(text.into_bytes()),
            |r| panic!("fixture rejected: {} {}", r.position, r.reason),
            |_| {},
        )
        .await
        .expect("import")
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> Answer {
        // As Famulor's clients do: JSON headers on every method, GET included.
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        send(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.request(reqwest::Method::GET, path, Some(token)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.request(reqwest::Method::DELETE, path, Some(token))
            .await
    }

    /// `GET /api/user/calls?<query>`.
    pub async fn list(&self, token: &str, query: &str) -> Answer {
        self.get(&format!("/api/user/calls?{query}"), token).await
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends a request and reads the answer, asserting the body is JSON.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    // HEAD answers carry headers only.
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("body of {status} is not JSON ({e}): {text:?}"))
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{status} answered with content-type {content_type:?}"
    );
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// A complete call object in the contract's shape; `overrides` replace fields.
pub fn call(id: i64, overrides: Value) -> Value {
    let mut call = json!({
        "id": id,
        "assistant_name": "Sales Assistant",
        "campaign_name": null,
        "type": "outbound",
        "duration": 180,
        "assistant_phone_number": "+4912345678",
        "client_phone_number": "+4915123456789",
        "status": "completed",
        "transcript": [
            {"text": "Hallo, mein Name ist Maximilian.", "type": "transcript", "sender": "bot", "timestamp": 1754055268.525861},
            {"text": "Hallo?", "type": "transcript", "sender": "human", "timestamp": 1754055272.069057}
        ],
        "variables": {"customer_name": "John"},
        "evaluation": [
            {"name": "status", "type": "bool", "value": true, "description": "Whether the call objective was achieved or not."}
        ],
        "webhook_response": {"crm_updated": true, "lead_score": 75},
        "carrier_cost": 0.08,
        "total_cost": 0.12,
        "answered_by": "human",
        "recording_url": "https://recordings.example.com/call.mp3",
        "created_at": "2024-01-15T10:30:00Z",
        "updated_at": "2024-01-15T10:33:00Z"
    });
    if let (Some(base), Some(changes)) = (call.as_object_mut(), overrides.as_object()) {
        for (key, value) in changes {
            base.insert(key.clone(), value.clone());
        }
    }
    call
}

/// The contract's 10 statuses, spelled exactly (written out here, not taken
/// from the code under test).
pub const STATUSES: [&str; 10] = [
    "initiated",
    "ringing",
    "busy",
    "in-progress",
    "ended",
    "completed",
    "ended_by_customer",
    "ended_by_assistant",
    "no-answer",
    "failed",
];

/// The contract's 3 call types.
pub const TYPES: [&str; 3] = ["inbound", "outbound", "web"];

/// The contract's Call field order.
pub const CALL_FIELDS: [&str; 18] = [
    "id",
    "assistant_name",
    "campaign_name",
    "type",
    "duration",
    "assistant_phone_number",
    "client_phone_number",
    "status",
    "transcript",
    "variables",
    "evaluation",
    "webhook_response",
    "carrier_cost",
    "total_cost",
    "answered_by",
    "recording_url",
    "created_at",
    "updated_at",
];

/// Keys of a JSON object in the order they appear in its text.
pub fn key_order(text: &str) -> Vec<String> {
    // serde_json sorts keys, so read the order off the text with a streaming visitor.
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(key);
            }
            Ok(keys)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(Keys)
        .expect("object")
}
