//! The twin's durable work queue (table `twin_job`, migration 0007) and its worker.
//!
//! An import that committed data for a patient queues the patient; the worker of any
//! server instance on the database claims queued patients one at a time with a lease,
//! recomputes their twin, and removes the row. Claiming is one statement: on PostgreSQL
//! `SELECT … FOR UPDATE SKIP LOCKED` inside it lets instances claim different patients
//! without waiting on each other; SQLite has one writer, so the statement alone is atomic.
//! A patient queued again while being computed keeps its row (its `queued_at` changed), so
//! the new data is computed too. A worker that dies leaves a row whose lease runs out
//! ([`LEASE_MS`]) and another worker takes it: nothing queued is lost to a crash or a
//! restart.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use crate::store::{ResourceStore, StoreError};

/// How long a claim holds before another worker may take the patient.
pub const LEASE_MS: i64 = 120_000;
/// How often an idle worker looks for work queued by other instances or the command line.
const POLL: Duration = Duration::from_secs(2);

/// Queues `patient_id` (again) for recomputation.
pub async fn enqueue(store: &dyn ResourceStore, patient_id: &str) -> Result<(), StoreError> {
    let reader = store.reader();
    reader
        .dialect
        .statement(
            "INSERT INTO twin_job (patient_id, queued_at, claimed_until) VALUES (?, ?, 0) \
             ON CONFLICT (patient_id) DO UPDATE SET queued_at = excluded.queued_at",
        )
        .bind(patient_id.to_owned())
        .bind(now_ms())
        .execute(&reader.pool)
        .await?;
    Ok(())
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The patient.
    pub patient_id: String,
    /// When it was queued (to tell whether it was queued again meanwhile).
    pub queued_at: i64,
}

/// Claims the longest-waiting unclaimed (or lease-expired) patient, if any.
pub async fn claim(store: &dyn ResourceStore) -> Result<Option<Claim>, StoreError> {
    let reader = store.reader();
    let now = now_ms();
    let sql = if reader.dialect.numbered {
        "UPDATE twin_job SET claimed_until = ? WHERE patient_id = (SELECT patient_id FROM \
         twin_job WHERE claimed_until < ? ORDER BY queued_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING patient_id, queued_at"
    } else {
        "UPDATE twin_job SET claimed_until = ? WHERE patient_id = (SELECT patient_id FROM \
         twin_job WHERE claimed_until < ? ORDER BY queued_at LIMIT 1) \
         RETURNING patient_id, queued_at"
    };
    let row = reader
        .dialect
        .statement(sql)
        .bind(now + LEASE_MS)
        .bind(now)
        .fetch_optional(&reader.pool)
        .await?;
    Ok(match row {
        Some(row) => Some(Claim {
            patient_id: row.try_get(0)?,
            queued_at: row.try_get(1)?,
        }),
        None => None,
    })
}

/// Ends a claim: the row goes, unless the patient was queued again meanwhile (then it is
/// released for the next round).
pub async fn finish(store: &dyn ResourceStore, claim: &Claim) -> Result<(), StoreError> {
    let reader = store.reader();
    let deleted = reader
        .dialect
        .statement("DELETE FROM twin_job WHERE patient_id = ? AND queued_at = ?")
        .bind(claim.patient_id.clone())
        .bind(claim.queued_at)
        .execute(&reader.pool)
        .await?
        .rows_affected();
    if deleted == 0 {
        release(store, &claim.patient_id).await?;
    }
    Ok(())
}

/// Frees a claimed patient for another try.
pub async fn release(store: &dyn ResourceStore, patient_id: &str) -> Result<(), StoreError> {
    let reader = store.reader();
    reader
        .dialect
        .statement("UPDATE twin_job SET claimed_until = 0 WHERE patient_id = ?")
        .bind(patient_id.to_owned())
        .execute(&reader.pool)
        .await?;
    Ok(())
}

/// Runs queued jobs until the server stops: `compute` is called for each claimed patient;
/// `wake` is notified by this instance's imports so work starts at once.
pub async fn work<F, Fut>(store: Arc<dyn ResourceStore>, wake: Arc<tokio::sync::Notify>, compute: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::error::ApiError>>,
{
    loop {
        match claim(&*store).await {
            Ok(Some(job)) => {
                let result = compute(job.patient_id.clone()).await;
                let ended = match result {
                    Ok(()) => finish(&*store, &job).await,
                    Err(e) => {
                        // The patient id is not PHI on its own, but the error text may
                        // quote data: log the kind only.
                        tracing::warn!(status = %e.status, "twin computation failed; will retry");
                        tokio::time::sleep(POLL).await;
                        release(&*store, &job.patient_id).await
                    }
                };
                if let Err(e) = ended {
                    tracing::warn!(error = %e, "could not update the twin job queue");
                }
            }
            Ok(None) => {
                let _ = tokio::time::timeout(POLL, wake.notified()).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the twin job queue");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
