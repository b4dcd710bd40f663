//! Versioned schema migrations, embedded in the binary and run at start-up.
//!
//! Each migration runs once, in order, inside a transaction, and is recorded in
//! `schema_migrations`; an old database opens with a new binary. On PostgreSQL an advisory
//! lock makes concurrent start-ups of several instances take turns.

use sqlx::{AnyConnection, Connection, Executor, Row};

/// `(version, SQL)` pairs for one dialect.
pub type Migrations = &'static [(i64, &'static str)];

/// SQLite's migrations.
pub const SQLITE: Migrations = &[
    (
        1,
        include_str!("../../migrations/sqlite/0001_resources.sql"),
    ),
    (
        2,
        include_str!("../../migrations/sqlite/0002_token_text.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_composite_ucum.sql"),
    ),
    // Versions 4 (extended statistics) and 6 (token rows by patient) are PostgreSQL's
    // alone; SQLite needs neither. Versions 8 (the reference lookup's column order) and 9
    // (no date or quantity lookup index) are SQLite's alone.
    (5, include_str!("../../migrations/sqlite/0005_auth.sql")),
    (
        7,
        include_str!("../../migrations/sqlite/0007_twin_jobs.sql"),
    ),
    (
        8,
        include_str!("../../migrations/sqlite/0008_reference_lookup_by_target.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_no_date_quantity_lookup.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_composites_on_their_parts.sql"),
    ),
];

/// PostgreSQL's migrations.
pub const POSTGRES: Migrations = &[
    (
        1,
        include_str!("../../migrations/postgres/0001_resources.sql"),
    ),
    (
        2,
        include_str!("../../migrations/postgres/0002_token_text.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_composite_ucum.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_lookup_statistics.sql"),
    ),
    (5, include_str!("../../migrations/postgres/0005_auth.sql")),
    (
        6,
        include_str!("../../migrations/postgres/0006_patient_tokens.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_twin_jobs.sql"),
    ),
    // Versions 8 and 9 are SQLite's alone (see above).
    (
        10,
        include_str!("../../migrations/postgres/0010_composites_on_their_parts.sql"),
    ),
];

/// An arbitrary key for PostgreSQL's advisory lock around migrations.
const PG_MIGRATION_LOCK: i64 = 0x4845_414c_5448;

/// Applies the migrations not yet recorded.
pub async fn run(
    conn: &mut AnyConnection,
    migrations: Migrations,
    postgres: bool,
) -> Result<(), sqlx::Error> {
    if postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let result = apply(conn, migrations).await;
    if postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply(conn: &mut AnyConnection, migrations: Migrations) -> Result<(), sqlx::Error> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for (version, sql) in migrations {
        if applied.contains(version) {
            continue;
        }
        let mut tx = conn.begin().await?;
        tx.execute(sqlx::AssertSqlSafe(*sql)).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(crate::clock::now_instant())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}
