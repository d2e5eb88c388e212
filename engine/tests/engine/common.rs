//! Shared test helpers: a throwaway database per test on the local servers, and running
//! a YAML config through the engine.

use hakobu_core::config::Config;
use hakobu_engine::{Summary, run_config};
use rand::Rng;
use std::process::Command;

/// A fresh database `hakobu_t_<random>`, dropped when the value drops.
pub struct TestDb {
    pub name: String,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Postgres,
    Mysql,
}

fn random_name() -> String {
    let n: u64 = rand::rng().random();
    format!("hakobu_t_{n:016x}")
}

impl TestDb {
    pub async fn postgres() -> (TestDb, tokio_postgres::Client) {
        let name = random_name();
        let admin = pg_connect("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        (
            TestDb {
                name: name.clone(),
                kind: Kind::Postgres,
            },
            pg_connect(&name).await,
        )
    }

    pub async fn mysql() -> (TestDb, mysql_async::Conn) {
        use mysql_async::prelude::Queryable;
        let name = random_name();
        let mut admin = mysql_async::Conn::new(mysql_opts(None)).await.unwrap();
        admin
            .query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"))
            .await
            .unwrap();
        let conn = mysql_async::Conn::new(mysql_opts(Some(&name)))
            .await
            .unwrap();
        (
            TestDb {
                name,
                kind: Kind::Mysql,
            },
            conn,
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop cannot be async; the CLI clients are installed next to the servers.
        let status = match self.kind {
            Kind::Postgres => Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-q", "-c"])
                .arg(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .status(),
            Kind::Mysql => Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-uroot", "-e"])
                .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
                .status(),
        };
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
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

pub async fn run(yaml: &str) -> anyhow::Result<Summary> {
    let config = Config::from_yaml(yaml).map_err(|e| anyhow::anyhow!("{e}\n{yaml}"))?;
    run_config(&config, |_| {}).await
}

pub async fn run_with_diff(yaml: &str, diff: Option<&str>) -> anyhow::Result<Summary> {
    let config = Config::from_yaml_with_diff(yaml, diff).map_err(|e| anyhow::anyhow!("{e}"))?;
    run_config(&config, |_| {}).await
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
