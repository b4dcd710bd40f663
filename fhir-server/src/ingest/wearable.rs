//! A wearable export (a file on disk) imported for one patient.
//!
//! The file is parsed twice: once without storing anything, so a malformed or truncated
//! file is refused whole (with the position of the fault) and nothing partial is kept;
//! and once, streamed, with the samples folded into resources by
//! [`mappers::wearable::fhir::Assembler`] and stored in chunks by [`ChunkWriter`]. The
//! two run side by side: the second's writer looks up and prepares its first chunk while
//! the first checks, and writes only once the whole file has parsed. The
//! parser runs on a blocking thread and hands resources over a bounded channel, so
//! memory stays flat however large the export (a 1 GB Apple Health export included).

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fhir_model::outcome::IssueType;
use mappers::wearable::fhir::{Assembler, ImportContext, provenance, reference_by_identifier};
use mappers::wearable::{self, ParseReport, Source};
use serde_json::Value;

use super::{ChunkWriter, IngestSummary, IngestTarget, consent};
use crate::error::ApiError;

/// Resources in flight between the parser thread and the writer.
const CHANNEL: usize = 2 * super::CHUNK;

/// Imports the export in `file` from `source` for `Patient/{patient_id}`. `now` is the
/// import's instant; `progress` counts the bytes both passes have read (twice the file
/// size at the end), for a progress bar.
pub async fn import(
    target: &IngestTarget,
    patient_id: &str,
    source: Source,
    file: &Path,
    now: &str,
    progress: Arc<AtomicU64>,
) -> Result<IngestSummary, ApiError> {
    require_patient(target, patient_id).await?;
    consent::require(target, patient_id, source.code(), now).await?;

    // Pass 1: the whole file must parse before anything is stored. It runs beside pass
    // 2, whose writer looks up and prepares its first chunk meanwhile but writes only
    // once this check has passed.
    let path = file.to_owned();
    let checked = Arc::clone(&progress);
    let check =
        tokio::task::spawn_blocking(move || parse_file(source, &path, Some(checked), &mut |_| {}));

    // Pass 2: parse again, assemble and store.
    let ctx = ImportContext {
        source,
        patient: format!("Patient/{patient_id}"),
        imported_at: now.to_owned(),
        import_id: uuid::Uuid::new_v4().to_string(),
    };
    let provenance_ctx = ctx.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Value>(CHANNEL);
    let path = file.to_owned();
    let parser = tokio::task::spawn_blocking(move || {
        let mut assembler = Assembler::new(ctx);
        let mut send = |resource: Value| {
            // The receiver only goes away when storing failed; that error is reported.
            let _ = tx.blocking_send(resource);
        };
        let report = parse_file(source, &path, Some(progress), &mut |sample| {
            assembler.push(sample, &mut send)
        })?;
        assembler.finish(&mut send);
        Ok::<ParseReport, ApiError>(report)
    });
    let mut writer = ChunkWriter::new(
        target.clone(),
        &format!("Patient/{patient_id}"),
        move |targets| provenance(&provenance_ctx, targets),
    )
    .await
    .write_after(async move { check.await.map_err(parser_failed)?.map(|_| ()) });
    let mut stored = Ok(());
    while let Some(resource) = rx.recv().await {
        let Some(url) = reference_by_identifier(&resource) else {
            stored = Err(ApiError::internal(
                "an assembled resource has no identifier",
            ));
            break;
        };
        if let Err(e) = writer.push(resource, url).await {
            stored = Err(e);
            break;
        }
    }
    drop(rx);
    let report = parser.await.map_err(parser_failed)??;
    stored?;
    let mut summary = writer.finish().await?;
    summary.read = report.records;
    for skipped in report.skipped {
        summary.reasons.push((skipped.position, skipped.reason));
    }
    summary.skipped = report.skipped_total;
    Ok(summary)
}

/// 404 unless the patient exists (imports never create patients).
pub(crate) async fn require_patient(
    target: &IngestTarget,
    patient_id: &str,
) -> Result<(), ApiError> {
    match target.store.read("Patient", patient_id).await? {
        Some(p) if !p.is_deleted() => Ok(()),
        _ => Err(ApiError::not_found(format!(
            "Patient/{patient_id} does not exist; imports need the patient first"
        ))),
    }
}

/// A parser thread that panicked or was cancelled.
fn parser_failed(e: tokio::task::JoinError) -> ApiError {
    ApiError::internal(format!("the parser thread failed: {e}"))
}

/// Parses the file, counting bytes read into `progress`.
fn parse_file(
    source: Source,
    path: &Path,
    progress: Option<Arc<AtomicU64>>,
    sink: &mut dyn FnMut(wearable::Sample),
) -> Result<ParseReport, ApiError> {
    let file = File::open(path).map_err(ApiError::internal)?;
    let input = BufReader::with_capacity(
        1 << 16,
        Counting {
            inner: file,
            progress,
        },
    );
    wearable::parse(source, input, &mut &mut *sink).map_err(|e| malformed(source, e))
}

/// The mapper's refusal as a 400 naming the position.
fn malformed(source: Source, error: mappers::Error) -> ApiError {
    let text = format!("not a valid {} export: {error}", source.display());
    match &error {
        mappers::Error::Io(_) => ApiError::internal(text),
        _ => ApiError::bad_request(IssueType::Invalid, text),
    }
}

/// A reader that adds the bytes it reads to a shared counter.
struct Counting<R> {
    inner: R,
    progress: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}
