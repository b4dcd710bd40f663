//! The PostgreSQL backend: a connection pool; each write job runs in its own transaction,
//! and row locks (`SELECT … FOR UPDATE`) serialize concurrent writes to one resource, so
//! several stateless server instances can share one database.

use async_trait::async_trait;
use sqlx::any::AnyPoolOptions;
use sqlx::{Connection, Executor};

use super::sql::{Dialect, SqlReader, SqlTx};
use super::{JobOutput, ResourceStore, StoreError, WriteJob, WriteTx, migrate};

/// A store on PostgreSQL.
pub struct PostgresStore {
    reader: SqlReader,
}

impl PostgresStore {
    /// Connects and runs migrations.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let pool = AnyPoolOptions::new()
            .max_connections(32)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Searches are short index walks; JIT compiling the ones the planner
                    // over-estimates costs tens of milliseconds each.
                    conn.execute("SET jit = off").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let mut conn = pool.acquire().await?;
        migrate::run(&mut conn, migrate::POSTGRES, true).await?;
        drop(conn);
        Ok(PostgresStore {
            reader: SqlReader {
                pool,
                dialect: Dialect::POSTGRES,
            },
        })
    }
}

#[async_trait]
impl ResourceStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    async fn write_job(&self, job: WriteJob) -> Result<JobOutput, StoreError> {
        let mut conn = self.reader.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let result = {
            let mut sql_tx = SqlTx::new(&mut tx, Dialect::POSTGRES);
            match job(&mut sql_tx).await {
                Ok(out) => sql_tx.flush().await.map(|()| out),
                Err(e) => Err(StoreError::Job(Box::new(e))),
            }
        };
        match result {
            Ok(out) => {
                tx.commit().await.map_err(map_unique)?;
                Ok(out)
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    fn reader(&self) -> &SqlReader {
        &self.reader
    }
}

/// A unique violation at commit means a concurrent writer created the resource first.
fn map_unique(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        _ => StoreError::Database(e),
    }
}
