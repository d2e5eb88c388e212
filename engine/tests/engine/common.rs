//! Shared test helpers: a throwaway database per test on the local servers (through
//! `hakobu-testkit`), and running a YAML config through the engine.

use hakobu_core::config::Config;
use hakobu_engine::{FileAccess, Summary, run_config};

pub use hakobu_testkit::TestDb;

/// A temporary directory removed at the end of the test.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let n: u64 = rand::random();
        let p = std::env::temp_dir().join(format!("hakobu-test-{n:016x}"));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh PostgreSQL database (dropped with the `TestDb`) and a client on it.
pub async fn postgres_db() -> (TestDb, tokio_postgres::Client) {
    let db = TestDb::postgres();
    let client = pg_connect(&db.name).await;
    (db, client)
}

/// A fresh MariaDB database in utf8mb4 (dropped with the `TestDb`) and a session on it.
pub async fn mysql_db() -> (TestDb, mysql_async::Conn) {
    let db = TestDb::mariadb();
    let conn = mysql_async::Conn::new(mysql_opts(Some(&db.name)))
        .await
        .unwrap();
    (db, conn)
}

pub async fn pg_connect(db: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 user=postgres dbname={db}"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    client
}

pub fn mysql_opts(db: Option<&str>) -> mysql_async::Opts {
    let url = match db {
        Some(db) => format!("mysql://root@127.0.0.1:3306/{db}"),
        None => "mysql://root@127.0.0.1:3306".to_owned(),
    };
    mysql_async::Opts::from_url(&url).unwrap()
}

/// `in:` of the local PostgreSQL test database.
pub fn pg_in(db: &str, rest: &str) -> String {
    format!(
        "in:\n  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: {db}\n{}",
        indent(rest)
    )
}

/// `out:` of the local PostgreSQL test database.
pub fn pg_out(db: &str, rest: &str) -> String {
    format!(
        "out:\n  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: {db}\n{}",
        indent(rest)
    )
}

/// `in:` of the local MariaDB test database.
pub fn my_in(db: &str, rest: &str) -> String {
    format!(
        "in:\n  type: mysql\n  host: 127.0.0.1\n  user: root\n  database: {db}\n{}",
        indent(rest)
    )
}

/// `out:` of the local MariaDB test database.
pub fn my_out(db: &str, rest: &str) -> String {
    format!(
        "out:\n  type: mysql\n  host: 127.0.0.1\n  user: root\n  database: {db}\n{}",
        indent(rest)
    )
}

/// Re-indents a YAML fragment (written at any indentation) under a section.
fn indent(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let min = lines
        .iter()
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines.iter().map(|l| format!("  {}\n", &l[min..])).collect()
}

/// Runs a config as `hakobu-runner run` does: the operator's own, paths as written.
pub async fn run(yaml: &str) -> anyhow::Result<Summary> {
    run_with_files(yaml, &FileAccess::Unconfined).await
}

/// Runs a config with the given access to local files (a tenant's run: `Within`).
pub async fn run_with_files(yaml: &str, files: &FileAccess) -> anyhow::Result<Summary> {
    let config = Config::from_yaml(yaml).map_err(|e| anyhow::anyhow!("{e}\n{yaml}"))?;
    run_config(&config, files, |_| {}).await
}

pub async fn run_with_diff(yaml: &str, diff: Option<&str>) -> anyhow::Result<Summary> {
    let config = Config::from_yaml_with_diff(yaml, diff).map_err(|e| anyhow::anyhow!("{e}"))?;
    run_config(&config, &FileAccess::Unconfined, |_| {}).await
}

/// `md5` of a table's rows as text, ordered by `order`.
pub async fn pg_checksum(client: &tokio_postgres::Client, table: &str, order: &str) -> String {
    client
        .query_one(&format!("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY {order})), 'empty') FROM {table} t"), &[])
        .await
        .unwrap()
        .get(0)
}

pub async fn pg_count(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// What the progress callback was told the source expects (rows, bytes), at its last call.
pub async fn expected_by_progress(yaml: &str) -> (Option<u64>, Option<u64>) {
    let config = Config::from_yaml(yaml)
        .map_err(|e| anyhow::anyhow!("{e}\n{yaml}"))
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new((None, None)));
    let recorder = seen.clone();
    run_config(&config, &FileAccess::Unconfined, move |p| {
        *recorder.lock().unwrap() = (p.rows_expected, p.bytes_expected);
    })
    .await
    .unwrap();
    *seen.lock().unwrap()
}

/// A raw HTTP listener on a loopback address, playing a hostile tenant server: it answers
/// every connection with `head` and, when `endless`, then sends bytes until the client
/// hangs up. Counts the connections it accepted and the body bytes it managed to send.
pub struct RawServer {
    pub port: u16,
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RawServer {
    pub async fn start(head: &str, endless: bool) -> RawServer {
        use std::sync::atomic::Ordering::SeqCst;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (count, total) = (accepted.clone(), sent.clone());
        let head = head.to_owned();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, SeqCst);
                let (head, total) = (head.clone(), total.clone());
                tokio::spawn(async move {
                    let mut request = vec![0u8; 64 * 1024];
                    let _ = socket.read(&mut request).await;
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let block = vec![b' '; 64 * 1024];
                    while endless && socket.write_all(&block).await.is_ok() {
                        total.fetch_add(block.len(), SeqCst);
                    }
                });
            }
        });
        RawServer {
            port,
            accepted,
            sent,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// An egress policy that opens exactly one loopback port: the rest of loopback (and
/// `localhost`) is the service's own machine, refused.
pub fn policy_opening(port: u16) -> hakobu_core::egress::EgressPolicy {
    use hakobu_core::egress::EgressPolicy;
    EgressPolicy::public(
        EgressPolicy::parse_allow_list(&format!("127.0.0.1:{port}")).unwrap(),
        vec![],
    )
}
