//! The SQLite backend (the embedded default): WAL, one writer with group commit, a pool
//! of readers.
//!
//! Group commit: write jobs queue to one writer task, which takes every job waiting (up
//! to [`MAX_BATCH`]), runs each in its own savepoint inside one `BEGIN IMMEDIATE … COMMIT`,
//! and answers them only after the commit. Many concurrent writes thus share one fsync
//! while each still succeeds or fails alone, and none is acknowledged before it is durable.
//!
//! The writer runs on a thread of its own (with a single-threaded runtime), not on the
//! server's runtime: all writes pass through it one after another, so it must never wait
//! behind request handlers that parse, validate and index large bodies on the shared
//! workers. Each statement is a round trip between this thread and the connection's
//! worker thread, and on the shared runtime every round trip queued behind that work.
//!
//! Checkpoints: a commit pays for a checkpoint (copying the WAL's pages back into the
//! database file) once the WAL holds [`CHECKPOINT_PAGES`] pages. The index pages a bulk
//! load dirties are scattered, and a page written to the WAL by many commits is copied
//! back once per checkpoint, so rarer checkpoints write much less (with a 32 MiB WAL the
//! Synthea import checkpointed after about every other commit). Readers read pages still
//! in the WAL from it rather than through the memory map, so when writes pause for
//! [`IDLE_CHECKPOINT`] the writer checkpoints at once, and a quiet server reads from the
//! database file alone.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

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

/// WAL pages (4 KiB each) after which a commit checkpoints: 512 MiB.
const CHECKPOINT_PAGES: u32 = 131_072;

/// The WAL file is cut back to this size when it restarts after a checkpoint: as large as
/// a checkpoint lets it grow, so a bulk load reuses the file's blocks instead of growing
/// it again after every checkpoint (measured slower), while a server that loaded nothing
/// big keeps a small one.
const WAL_SIZE_LIMIT: u64 = CHECKPOINT_PAGES as u64 * 4096;

/// A pause in writes this long checkpoints the WAL.
const IDLE_CHECKPOINT: Duration = Duration::from_millis(200);

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
        // A larger page cache and rare checkpoints (see the module docs).
        writer.execute("PRAGMA cache_size = -65536").await?;
        // Each job of a group commit runs under a savepoint, whose journal (the pages the
        // job changed, as they were before) is kept in memory instead of a temporary file:
        // the file's writes were a tenth of the writer's time in a bulk import.
        writer.execute("PRAGMA temp_store = MEMORY").await?;
        writer
            .execute(sqlx::AssertSqlSafe(format!(
                "PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}"
            )))
            .await?;
        writer
            .execute(sqlx::AssertSqlSafe(format!(
                "PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}"
            )))
            .await?;
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::Io)?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(run_writer(writer, rx)))
            .map_err(sqlx::Error::Io)?;
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

/// The writer: group commits until every sender is gone, and a checkpoint whenever writes
/// pause after a commit.
async fn run_writer(mut conn: AnyConnection, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut committed_since_checkpoint = false;
    loop {
        let next = if committed_since_checkpoint {
            match tokio::time::timeout(IDLE_CHECKPOINT, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    checkpoint(&mut conn).await;
                    committed_since_checkpoint = false;
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = next else {
            break;
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, &mut batch).await;
        committed_since_checkpoint = true;
    }
}

/// Copies the WAL back into the database file as far as readers allow (a reader still on
/// an older snapshot keeps its pages in the WAL until the next checkpoint).
async fn checkpoint(conn: &mut AnyConnection) {
    if let Err(e) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
        tracing::warn!(error = %e, "WAL checkpoint failed");
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
