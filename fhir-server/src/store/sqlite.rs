//! The SQLite backend (the embedded default): WAL, one writer with group commit, a pool
//! of readers.
//!
//! Group commit: write jobs queue to one writer task, which takes every job waiting (up
//! to [`MAX_BATCH`]), runs each in its own savepoint inside one `BEGIN IMMEDIATE … COMMIT`,
//! and answers them only after the commit. Many concurrent writes thus share one fsync
//! while each still succeeds or fails alone, and none is acknowledged before it is durable.

use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use futures::FutureExt;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, ConnectOptions, Executor};
use tokio::sync::{mpsc, oneshot};

use super::sql::{Dialect, SqlReader, SqlTx};
use super::{JobOutput, ResourceStore, StoreError, WriteJob, WriteTx, migrate};
use crate::error::ApiError;

/// The most jobs one group commit takes.
const MAX_BATCH: usize = 256;

/// Reader connections.
const READERS: u32 = 8;

struct Request {
    job: WriteJob,
    reply: oneshot::Sender<Result<JobOutput, StoreError>>,
}

/// A store on an SQLite file.
pub struct SqliteStore {
    writer: mpsc::Sender<Request>,
    reader: SqlReader,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file, switches it to WAL, runs migrations
    /// and starts the writer task.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let url = with_create_mode(url);
        if let Some(dir) =
            sqlite_path(&url).and_then(|p| std::path::Path::new(p).parent().map(ToOwned::to_owned))
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&dir).map_err(sqlx::Error::Io)?;
        }
        let options: AnyConnectOptions = url.parse()?;
        let mut writer = options.connect().await?;
        writer.execute("PRAGMA journal_mode = WAL").await?;
        writer.execute("PRAGMA synchronous = FULL").await?;
        writer.execute("PRAGMA busy_timeout = 5000").await?;
        // A larger page cache and rarer checkpoints: hot index pages are written to the
        // WAL once per commit instead of being checkpointed back and forth.
        writer.execute("PRAGMA cache_size = -65536").await?;
        writer.execute("PRAGMA wal_autocheckpoint = 8192").await?;
        writer.execute("PRAGMA mmap_size = 274877906944").await?;
        migrate::run(&mut writer, migrate::SQLITE, false).await?;

        let readers = AnyPoolOptions::new()
            .max_connections(READERS)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    // Reads through a memory map instead of a `read` system call per page
                    // missing from the connection's own cache (address space, not memory:
                    // the pages are the OS page cache's), and a larger cache per reader.
                    // The map covers the whole file up to 256 GiB (the bundled SQLite's
                    // own 2 GiB cap is lifted in `.cargo/config.toml`).
                    conn.execute("PRAGMA mmap_size = 274877906944").await?;
                    conn.execute("PRAGMA cache_size = -16384").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;

        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run_writer(writer, rx));
        Ok(SqliteStore {
            writer: tx,
            reader: SqlReader {
                pool: readers,
                dialect: Dialect::SQLITE,
            },
        })
    }
}

/// `sqlite://x.db` → `sqlite://x.db?mode=rwc` (sqlx does not create files by default).
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}

async fn run_writer(mut conn: AnyConnection, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, &mut batch).await;
    }
}

async fn commit_batch(conn: &mut AnyConnection, batch: &mut Vec<Request>) {
    let fail_all = |batch: &mut Vec<Request>, msg: &str| {
        for req in batch.drain(..) {
            let _ = req
                .reply
                .send(Err(StoreError::Database(sqlx::Error::Protocol(
                    msg.to_owned(),
                ))));
        }
    };
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        fail_all(batch, &e.to_string());
        return;
    }
    // Every job of the batch shares one transaction and one write buffer, so the writes
    // of many small jobs go out together in a few multi-row statements at the end.
    let mut done = Vec::with_capacity(batch.len());
    let outcome = {
        let mut tx = SqlTx::new(&mut *conn, Dialect::SQLITE);
        for req in batch.drain(..) {
            tx.begin_job();
            let result = match AssertUnwindSafe((req.job)(&mut tx)).catch_unwind().await {
                Ok(Ok(out)) => Ok(out),
                Ok(Err(e)) => Err(StoreError::Job(Box::new(e))),
                Err(_) => Err(StoreError::Job(Box::new(ApiError::internal(
                    "a write job panicked",
                )))),
            };
            tx.end_job(result.is_ok()).await;
            done.push((req.reply, result));
        }
        if tx.is_poisoned() {
            Err("a write of this batch failed; nothing of it was kept".to_owned())
        } else {
            tx.flush().await.map_err(|e| e.to_string())
        }
    };
    let outcome = match outcome {
        Ok(()) => conn
            .execute("COMMIT")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => {
            for (reply, result) in done {
                let _ = reply.send(result);
            }
        }
        Err(msg) => {
            // The whole batch rolls back: no job is acknowledged, none half-applied.
            let _ = conn.execute("ROLLBACK").await;
            for (reply, result) in done {
                let _ = reply.send(match result {
                    Ok(_) => Err(StoreError::Database(sqlx::Error::Protocol(msg.clone()))),
                    Err(e) => Err(e),
                });
            }
        }
    }
}

#[async_trait]
impl ResourceStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn write_job(&self, job: WriteJob) -> Result<JobOutput, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Request { job, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    fn reader(&self) -> &SqlReader {
        &self.reader
    }
}
