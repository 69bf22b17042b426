//! Test harness: `spawn_app`, a typed client, and call fixtures.

use std::net::SocketAddr;
use std::sync::Arc;

use callbase::app::{self, Settings};
use callbase::store::{self, Scope, Store, User};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Registers `async fn name(app: TestApp)` tests once per storage backend:
/// `sqlite::name` and `postgres::name`.
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
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::try_spawn_app($crate::helpers::Backend::Postgres).await else {
                        return;
                    };
                    super::$name(app).await;
                }
            )+
        }
    };
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A plain PostgreSQL connection, behind the service's back.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("CALLBASE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The same server URL naming another database.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("a postgres:// URL");
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// Connects to PostgreSQL, or explains why the tests are skipped (and fails
/// when `CALLBASE_REQUIRE_POSTGRES=1`, as in CI).
pub async fn postgres_admin() -> Option<tokio_postgres::Client> {
    use std::sync::atomic::{AtomicBool, Ordering};
    // Once the server failed to answer, later tests skip without waiting again.
    static UNREACHABLE: AtomicBool = AtomicBool::new(false);
    static NOTICE: std::sync::Once = std::sync::Once::new();
    let required = std::env::var("CALLBASE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let url = postgres_admin_url();
    if UNREACHABLE.load(Ordering::Relaxed) && !required {
        return None;
    }
    let attempt = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await;
    let reason = match attempt {
        Ok(Ok((client, connection))) => {
            tokio::spawn(connection);
            return Some(client);
        }
        Ok(Err(err)) => err.to_string(),
        Err(_) => "no answer within 5 s".to_owned(),
    };
    if required {
        panic!(
            "PostgreSQL is required (CALLBASE_REQUIRE_POSTGRES=1) but {url} does not answer: {reason}"
        );
    }
    UNREACHABLE.store(true, Ordering::Relaxed);
    let notice = format!(
        "SKIPPED: the PostgreSQL variants of the tests pass without running: no server at {url} ({reason}). \
         Set CALLBASE_TEST_POSTGRES_URL to a server, or CALLBASE_REQUIRE_POSTGRES=1 to make this a failure."
    );
    // Straight to stderr, past libtest's capture, so a plain `cargo test` shows it.
    NOTICE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "\n{notice}\n");
    });
    eprintln!("{notice}");
    None
}

/// A fresh, empty database for one test; dropped when the guard goes.
pub struct TestDatabase {
    pub url: String,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(Self {
                    url,
                    name: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin().await?;
                let name = format!("callbase_test_{}_{}", std::process::id(), rand_suffix());
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create database");
                Some(Self {
                    url: with_database(&postgres_admin_url(), &name),
                    name: Some(name),
                    _dir: None,
                })
            }
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}_{nanos}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else { return };
        // Drop needs async; a small runtime on its own thread does it.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&postgres_admin_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running server with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub backend: Backend,
    pub database_url: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Declared last: dropped after the server lets go of it.
    database: Option<Arc<TestDatabase>>,
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

/// A server on a fresh SQLite database (always available).
pub async fn spawn_app(backend: Backend) -> TestApp {
    try_spawn_app(backend)
        .await
        .expect("the backend is available")
}

/// A server on a fresh database of the backend, or `None` when PostgreSQL is
/// not available and not required.
pub async fn try_spawn_app(backend: Backend) -> Option<TestApp> {
    try_spawn_app_with(backend, |_| {}).await
}

/// Starts a server, letting the test adjust its settings first.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    try_spawn_app_with(backend, adjust)
        .await
        .expect("the backend is available")
}

pub async fn try_spawn_app_with(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let database = Arc::new(TestDatabase::create(backend).await?);
    Some(spawn_on(backend, database, adjust).await)
}

/// Starts one more server on an existing test database (several servers, one database).
pub async fn spawn_on(
    backend: Backend,
    database: Arc<TestDatabase>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let options = store::ConnectOptions { pool_size: 4 };
    let store = store::connect_with(&database.url, options)
        .await
        .expect("database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut settings = Settings::new(format!("http://{addr}"));
    // Webhooks go to receivers on 127.0.0.1 in tests, retried quickly.
    settings.outbox = Some(callbase::outbox::OutboxConfig {
        allow_private: true,
        schedule: vec![std::time::Duration::from_millis(200); 3],
        poll_interval: std::time::Duration::from_millis(50),
        total_timeout: std::time::Duration::from_secs(5),
        ..callbase::outbox::OutboxConfig::default()
    });
    adjust(&mut settings);
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app::serve(listener, store.clone(), settings, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        store,
        backend,
        database_url: database.url.clone(),
        client: http_client(),
        shutdown: Some(tx),
        server: Some(server),
        database: Some(database),
    }
}

/// Holds the database locked against writers (and, on PostgreSQL, readers of
/// the locked tables) until dropped.
#[allow(dead_code)] // the connections are held for their locks, never read
pub enum DatabaseLock {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl TestApp {
    /// The database, to start another server on it.
    pub fn database(&self) -> Arc<TestDatabase> {
        self.database.clone().expect("database")
    }

    /// Takes the write lock from another connection: writes (and on
    /// PostgreSQL, reads of the migrations table) wait until the guard drops.
    pub async fn lock_database(&self) -> DatabaseLock {
        match self.backend {
            Backend::Sqlite => {
                let path = self.database_url.trim_start_matches("sqlite://");
                let conn = rusqlite::Connection::open(path).expect("open");
                conn.execute_batch("BEGIN IMMEDIATE; UPDATE schema_migrations SET name = name;")
                    .expect("lock");
                DatabaseLock::Sqlite(conn)
            }
            Backend::Postgres => {
                let client = pg_connect(&self.database_url).await;
                client
                    .batch_execute("BEGIN; LOCK TABLE calls, call_ids, schema_migrations IN ACCESS EXCLUSIVE MODE;")
                    .await
                    .expect("lock");
                DatabaseLock::Postgres(client)
            }
        }
    }

    /// Runs one statement directly against the database, behind the service's back.
    pub async fn execute_sql(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let conn =
                    rusqlite::Connection::open(self.database_url.trim_start_matches("sqlite://"))
                        .expect("open");
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .expect("timeout");
                conn.execute_batch(sql).expect("sql");
            }
            Backend::Postgres => {
                let client = pg_connect(&self.database_url).await;
                client.batch_execute(sql).await.expect("sql");
            }
        }
    }

    /// Runs a query returning integers in its first column, behind the
    /// service's back: the plain answers that rollups are checked against.
    pub async fn query_ints(&self, sql: &str) -> Vec<i64> {
        match self.backend {
            Backend::Sqlite => {
                let conn =
                    rusqlite::Connection::open(self.database_url.trim_start_matches("sqlite://"))
                        .expect("open");
                let mut stmt = conn.prepare(sql).expect("prepare");
                stmt.query_map([], |r| r.get(0))
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows")
            }
            Backend::Postgres => {
                let client = pg_connect(&self.database_url).await;
                client
                    .query(sql, &[])
                    .await
                    .expect("query")
                    .iter()
                    .map(|r| r.get::<_, i64>(0))
                    .collect()
            }
        }
    }

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
        let (_, token) =
            callbase::token::issue(self.store.as_ref(), &user, "test", None, Scope::Write)
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

    /// The ids of every page of the list for `query`, in order (pages of 100).
    pub async fn all_ids(&self, token: &str, query: &str) -> Vec<i64> {
        let mut ids = Vec::new();
        for page in 1.. {
            let answer = self
                .list(
                    token,
                    &format!("{query}&per_page=100&page={page}&fields=id"),
                )
                .await;
            let got = answer.ids();
            if got.is_empty() {
                break;
            }
            ids.extend(got);
        }
        ids
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.request(reqwest::Method::GET, path, Some(token)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.request(reqwest::Method::DELETE, path, Some(token))
            .await
    }

    /// A request with a JSON body (and optional extra headers).
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("Accept", "application/json")
            .bearer_auth(token)
            .json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send_json(reqwest::Method::POST, path, token, &body, &[])
            .await
    }

    /// A PATCH with the body's exact text (numbers serde_json would round).
    pub async fn patch_raw(&self, path: &str, token: &str, body: &str) -> Answer {
        self.send_raw(reqwest::Method::PATCH, path, token, body)
            .await
    }

    /// A POST with the body's exact text.
    pub async fn post_raw(&self, path: &str, token: &str, body: &str) -> Answer {
        self.send_raw(reqwest::Method::POST, path, token, body)
            .await
    }

    async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &str,
    ) -> Answer {
        let request = self
            .client
            .request(method, self.url(path))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .bearer_auth(token)
            .body(body.to_owned());
        send(request).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send_json(reqwest::Method::PATCH, path, token, &body, &[])
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
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A `callbase` child process, killed if the test ends (or panics) before it
/// was stopped: a failed test must not leave a server behind, nor a reader of
/// its output blocking the test runtime's shutdown.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The tests' HTTP client: a server that stops answering fails the test
/// after a minute instead of hanging it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("HTTP client")
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
    // Read the order off the text itself with a streaming visitor, whatever
    // map type serde_json is built with.
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
