//! The PostgreSQL backend: a connection pool; each write job runs in its own transaction,
//! and row locks (`SELECT … FOR UPDATE`) serialize concurrent writes to one resource, so
//! several stateless server instances can share one database.

use async_trait::async_trait;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection};

use super::sql::{self, Dialect, SqlTx};
use super::{
    Criterion, HistoryPage, HistoryQuery, HistoryScope, JobOutput, ResourceStore, SearchPage,
    StoreError, StoredResource, WriteJob, WriteTx, migrate,
};

/// A store on PostgreSQL.
pub struct PostgresStore {
    pool: AnyPool,
}

impl PostgresStore {
    /// Connects and runs migrations.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let pool = AnyPoolOptions::new()
            .max_connections(32)
            .connect(url)
            .await?;
        let mut conn = pool.acquire().await?;
        migrate::run(&mut conn, migrate::POSTGRES, true).await?;
        drop(conn);
        Ok(PostgresStore { pool })
    }
}

#[async_trait]
impl ResourceStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    async fn write_job(&self, job: WriteJob) -> Result<JobOutput, StoreError> {
        let mut conn = self.pool.acquire().await?;
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

    async fn read(&self, res_type: &str, id: &str) -> Result<Option<StoredResource>, StoreError> {
        sql::read(
            &mut *self.pool.acquire().await?,
            Dialect::POSTGRES,
            res_type,
            id,
        )
        .await
    }

    async fn vread(
        &self,
        res_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<StoredResource>, StoreError> {
        sql::vread(
            &mut *self.pool.acquire().await?,
            Dialect::POSTGRES,
            res_type,
            id,
            version,
        )
        .await
    }

    async fn history(
        &self,
        scope: &HistoryScope,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        sql::history(
            &mut *self.pool.acquire().await?,
            Dialect::POSTGRES,
            scope,
            query,
        )
        .await
    }

    async fn search(
        &self,
        res_type: &str,
        criteria: &[Criterion],
        count: usize,
        after: Option<i64>,
    ) -> Result<SearchPage, StoreError> {
        sql::search(
            &mut *self.pool.acquire().await?,
            Dialect::POSTGRES,
            res_type,
            criteria,
            count,
            after,
        )
        .await
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
