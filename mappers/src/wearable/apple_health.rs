//! Apple Health export (`export.zip` / `export.xml`) → [`Sample`]s.
//!
//! The iPhone Health app exports everything it holds as one XML file, `export.xml`, inside
//! `export.zip`. Years of heart rate from a watch make that file hundreds of megabytes to
//! over a gigabyte, so it is pull-parsed with quick-xml and every `Record` becomes a
//! [`Sample`] pushed to the sink as soon as it is read: memory stays constant whatever the
//! size (no DOM, no list of records; only a handful of counters and a small device cache).
//!
//! What is read, per `../shared/mapping-notes.md`:
//!
//! * `Record` elements of the quantity types listed in `quantity_type` below, converted to the
//!   metric's canonical UCUM unit from the record's own `unit` attribute (the unit depends
//!   on the phone's locale: `km` or `mi`, `kcal` or `Cal`, `mg/dL` or `mmol<180.15…>/L`).
//!   Apple writes oxygen saturation and body fat as a 0–1 fraction with unit `%`: ×100.
//! * `HKCategoryTypeIdentifierSleepAnalysis` records: one [`Reading::Sleep`] per record
//!   with its single stage and its length in minutes.
//! * Blood pressure only from `Correlation type="HKCorrelationTypeIdentifierBloodPressure"`:
//!   one [`Reading::BloodPressure`] from its systolic and diastolic child records. Apple also
//!   writes those children as top-level records (the export's DTD says so); the top-level
//!   copies are not samples and are not counted as records.
//!
//! Dates keep Apple's UTC offset (`2019-06-11 15:00:00 -0700` → `2019-06-11T15:00:00-07:00`);
//! a record whose start and end are equal is an [`Effective::Instant`], any other an
//! [`Effective::Period`]. Exports carry no record ids, so [`Sample::record_id`] is `None`
//! and the identifier is derived downstream from metric, time and device.
//!
//! `ExportDate` and `Me` are not records. Every other record or top-level element that is
//! not imported (unknown HealthKit types, `Workout`, `ActivitySummary`, `ClinicalRecord`, …)
//! is counted as skipped, one [`Skipped`] entry per type with its count and
//! first line, so a million `BasalEnergyBurned` records do not hide the one record whose
//! value could not be read. A record that cannot be read (value or date unparsable, unit of
//! the wrong dimension) is skipped with its line; broken XML, a file cut short, or a root
//! other than `HealthData` fails the whole import with [`Error::Malformed`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::calendar::{days_from_civil, days_in_month};
use super::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, Sample, SampleSink, Skipped,
    SleepStage,
};
use crate::Error;

/// The correlation type whose systolic and diastolic records make one blood pressure.
pub const BLOOD_PRESSURE_CORRELATION: &str = "HKCorrelationTypeIdentifierBloodPressure";
const SYSTOLIC: &str = "HKQuantityTypeIdentifierBloodPressureSystolic";
const DIASTOLIC: &str = "HKQuantityTypeIdentifierBloodPressureDiastolic";
const SLEEP: &str = "HKCategoryTypeIdentifierSleepAnalysis";

/// mmol/L of glucose → mg/dL (mapping notes: ×18.016).
const GLUCOSE_MG_PER_DL_PER_MMOL_PER_L: f64 = 18.016;

/// Read buffer for files and zip entries.
const BUFFER: usize = 64 * 1024;

/// Devices remembered with their parsed [`DeviceInfo`]; an export is sorted by type, so a
/// few cover nearly every record.
const DEVICE_CACHE: usize = 16;

/// Reads an Apple Health export, zipped or not: a stream starting with a zip signature
/// goes to [`parse_zip`], anything else to [`parse_xml`].
///
/// Samples are pushed as they are read; when this returns an error, the caller discards
/// what the sink received.
pub fn parse<R: Read + Seek>(
    mut reader: R,
    sink: &mut impl SampleSink,
) -> Result<ParseReport, Error> {
    let start = reader.stream_position()?;
    let mut magic = [0u8; 4];
    let mut len = 0;
    while len < magic.len() {
        match reader.read(&mut magic[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    reader.seek(SeekFrom::Start(start))?;
    // Local file header, or the end-of-central-directory record of an empty archive.
    if magic[..len] == *b"PK\x03\x04" || magic[..len] == *b"PK\x05\x06" {
        parse_zip(reader, sink)
    } else {
        parse_xml(BufReader::with_capacity(BUFFER, reader), sink)
    }
}

/// Reads `export.zip` as the Health app writes it: finds the `export.xml` entry
/// (`apple_health_export/export.xml`; never `export_cda.xml`, nor the `__MACOSX/._…` shadow
/// files a Finder-made zip adds) and streams it through [`parse_xml`] without unpacking it.
///
/// An error inside the entry names it in its position
/// (`apple_health_export/export.xml: line 12, column 3`).
pub fn parse_zip<R: Read + Seek>(
    reader: R,
    sink: &mut impl SampleSink,
) -> Result<ParseReport, Error> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| Error::Malformed {
        position: "zip archive".to_owned(),
        reason: format!("not a readable zip archive: {e}"),
    })?;
    let mut names = Vec::new();
    let mut best: Option<String> = None;
    for name in archive.file_names() {
        let Ok(name) = name else { continue };
        if names.len() < 8 {
            names.push(name.to_string());
        }
        let is_export = name.rsplit('/').next() == Some("export.xml")
            && !name.starts_with("__MACOSX/")
            && !name.contains("/__MACOSX/");
        let shallower = |b: &String| name.matches('/').count() < b.matches('/').count();
        if is_export && best.as_ref().is_none_or(shallower) {
            best = Some(name.into_owned());
        }
    }
    let Some(name) = best else {
        return Err(Error::Malformed {
            position: "zip archive".to_owned(),
            reason: format!(
                "no export.xml entry: not an Apple Health export (entries: {})",
                names.join(", ")
            ),
        });
    };
    let entry = archive.by_name(&name).map_err(|e| Error::Malformed {
        position: name.clone(),
        reason: format!("cannot open the entry: {e}"),
    })?;
    match parse_xml(BufReader::with_capacity(BUFFER, entry), sink) {
        Err(Error::Malformed { position, reason }) => Err(Error::Malformed {
            position: format!("{name}: {position}"),
            reason,
        }),
        // Inflating or checking the entry failed: the archive is damaged, not the disk.
        Err(Error::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Err(Error::Malformed {
                position: name,
                reason: format!("damaged zip entry: {e}"),
            })
        }
        other => other,
    }
}

/// Streams an `export.xml` (with or without its `<!DOCTYPE HealthData [...]>` internal DTD)
/// into `sink`, in constant memory. See the module documentation for what becomes a sample.
///
/// Fails with [`Error::Malformed`] at `line L, column C` when the XML is broken, when the file
/// ends before `</HealthData>` (a truncated export), or when the root is not `HealthData`.
/// Samples are pushed as they are read; when this returns an error, the caller discards
/// what the sink received.
pub fn parse_xml<R: BufRead>(reader: R, sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    let mut xml = Reader::from_reader(Lines::new(reader));
    xml.config_mut().trim_text(true);
    let mut buf = Vec::with_capacity(4096);
    let mut import = Import::new(sink);
    // Open elements; 1 inside <HealthData>.
    let mut depth: u32 = 0;
    let mut root = Root::NotSeen;
    loop {
        buf.clear();
        let event = match xml.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) => return Err(xml_error(&xml, e)),
        };
        let (e, has_children) = match event {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(_) => {
                // quick-xml checks that end tags match their start tags.
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    root = Root::Closed;
                } else if depth == 1 {
                    import.close_top_level();
                }
                continue;
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if depth == 0 => {
                return Err(Here::at_end(xml.get_ref())
                    .malformed("text outside the root element: not an Apple Health export.xml"));
            }
            Event::Eof => break,
            _ => continue,
        };
        let here = Here::new(xml.get_ref(), &e, has_children);
        if depth == 0 {
            if root != Root::NotSeen {
                return Err(here.malformed("a second root element after </HealthData>"));
            }
            if e.name().0 != "HealthData" {
                return Err(here.malformed(format!(
                    "the root element is <{}>, not <HealthData>: not an Apple Health export",
                    e.name().0
                )));
            }
            root = if has_children {
                Root::Open
            } else {
                Root::Closed
            };
        } else {
            import.open(depth, &e, has_children, &here)?;
        }
        if has_children {
            depth += 1;
        }
    }
    match root {
        Root::Closed => Ok(import.finish()),
        Root::NotSeen => Err(Here::at_end(xml.get_ref())
            .malformed("no <HealthData> element: not an Apple Health export")),
        Root::Open => Err(Here::at_end(xml.get_ref())
            .malformed("the file ends before </HealthData>: the export is truncated")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    NotSeen,
    Open,
    Closed,
}

/// quick-xml's error, at the line and column where it stopped.
fn xml_error<R: BufRead>(xml: &Reader<Lines<R>>, e: quick_xml::Error) -> Error {
    match e {
        quick_xml::Error::Io(io) => Error::Io(
            Arc::try_unwrap(io).unwrap_or_else(|io| io::Error::new(io.kind(), io.to_string())),
        ),
        other => Error::Malformed {
            position: xml.get_ref().position_of(xml.error_position()),
            reason: other.to_string(),
        },
    }
}

/// The input with a line count: quick-xml reports byte offsets only, and a person looking
/// at a 1 GB file needs a line. Counts the newlines in what the parser consumes.
struct Lines<R> {
    inner: R,
    /// Bytes consumed.
    consumed: u64,
    /// Line (1-based) of the next byte.
    line: u64,
    /// Offset of the first byte of that line.
    line_start: u64,
}

impl<R: BufRead> Lines<R> {
    fn new(inner: R) -> Self {
        Lines {
            inner,
            consumed: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// `line L, column C` of a byte offset at or after the start of the current line
    /// (quick-xml's error position); `byte N` for an earlier one.
    fn position_of(&self, offset: u64) -> String {
        if (self.line_start..=self.consumed).contains(&offset) {
            format!(
                "line {}, column {}",
                self.line,
                offset - self.line_start + 1
            )
        } else {
            format!("byte {offset}")
        }
    }
}

impl<R: BufRead> Read for Lines<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Lines<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if amt > 0 {
            // The bytes being consumed are still at the head of the inner buffer (`fill_buf`
            // returns the unconsumed buffer without reading).
            if let Ok(buffer) = self.inner.fill_buf() {
                let taken = &buffer[..amt.min(buffer.len())];
                let newlines = taken.iter().filter(|&&b| b == b'\n').count();
                if newlines > 0 {
                    self.line += newlines as u64;
                    if let Some(last) = taken.iter().rposition(|&b| b == b'\n') {
                        self.line_start = self.consumed + last as u64 + 1;
                    }
                }
            }
        }
        self.inner.consume(amt);
        self.consumed += amt as u64;
    }
}

/// Where an element starts, worked out only when a position is reported: its line is the
/// line count after the tag minus the newlines inside it (watchOS 10 exports split
/// attributes over lines).
struct Here<'t> {
    /// Line and column (1-based) of the byte after the tag.
    line_after: u64,
    column_after: u64,
    /// The tag between `<` and `>` (`/>`), or nothing for the end of the input.
    tag: &'t str,
    /// Bytes of markup around `tag`: `<` and `>` or `/>`.
    markup: u64,
}

impl<'t> Here<'t> {
    fn new<R: BufRead>(lines: &Lines<R>, tag: &'t BytesStart<'_>, has_children: bool) -> Self {
        Here {
            line_after: lines.line,
            column_after: lines.consumed - lines.line_start + 1,
            tag,
            markup: if has_children { 2 } else { 3 },
        }
    }

    fn at_end<R: BufRead>(lines: &Lines<R>) -> Self {
        Here {
            line_after: lines.line,
            column_after: lines.consumed - lines.line_start + 1,
            tag: "",
            markup: 0,
        }
    }

    fn line_number(&self) -> u64 {
        self.line_after - self.tag.bytes().filter(|&b| b == b'\n').count() as u64
    }

    /// `line N`, for skipped records.
    fn line(&self) -> String {
        format!("line {}", self.line_number())
    }

    /// `line L, column C`; only `line L` when the tag spans lines (its first line's column
    /// is not known).
    fn malformed(&self, reason: impl Into<String>) -> Error {
        let line = self.line_number();
        let position = if line == self.line_after {
            let column = self
                .column_after
                .saturating_sub(self.tag.len() as u64 + self.markup);
            format!("line {line}, column {column}")
        } else {
            format!("line {line}")
        };
        Error::Malformed {
            position,
            reason: reason.into(),
        }
    }
}

/// The attributes of a `Record` or `Correlation` that matter here, as written (escaped).
#[derive(Default)]
struct Attrs<'a> {
    ty: Option<Cow<'a, str>>,
    unit: Option<Cow<'a, str>>,
    value: Option<Cow<'a, str>>,
    source_name: Option<Cow<'a, str>>,
    device: Option<Cow<'a, str>>,
    start: Option<Cow<'a, str>>,
    end: Option<Cow<'a, str>>,
}

impl<'a> Attrs<'a> {
    fn read(tag: &'a BytesStart<'_>, here: &Here<'_>) -> Result<Attrs<'a>, Error> {
        let mut attrs = Attrs::default();
        let mut iter = tag.attributes();
        iter.with_checks(false);
        for attr in iter {
            let attr = attr.map_err(|e| here.malformed(format!("attribute: {e}")))?;
            let slot = match attr.key.0 {
                "type" => &mut attrs.ty,
                "unit" => &mut attrs.unit,
                "value" => &mut attrs.value,
                "sourceName" => &mut attrs.source_name,
                "device" => &mut attrs.device,
                "startDate" => &mut attrs.start,
                "endDate" => &mut attrs.end,
                _ => continue,
            };
            *slot = Some(attr.value);
        }
        Ok(attrs)
    }
}

/// The import under way: the sink, the report, and what is remembered between records.
struct Import<'s, S> {
    sink: &'s mut S,
    report: ParseReport,
    /// Records and elements not imported, by type: count and first line.
    not_imported: BTreeMap<String, (u64, u64)>,
    devices: DeviceCache,
    /// The blood-pressure correlation being read.
    correlation: Option<Correlation>,
}

/// A blood-pressure correlation between its start and end tags.
struct Correlation {
    line: u64,
    effective: Result<Effective, String>,
    device: DeviceInfo,
    systolic: Option<f64>,
    diastolic: Option<f64>,
    /// The first child that could not be read.
    problem: Option<String>,
}

impl<'s, S: SampleSink> Import<'s, S> {
    fn new(sink: &'s mut S) -> Self {
        Import {
            sink,
            report: ParseReport::default(),
            not_imported: BTreeMap::new(),
            devices: DeviceCache::default(),
            correlation: None,
        }
    }

    /// An element opens inside `<HealthData>` at `depth` (1: a top-level element).
    fn open(
        &mut self,
        depth: u32,
        tag: &BytesStart<'_>,
        has_children: bool,
        here: &Here<'_>,
    ) -> Result<(), Error> {
        let name = tag.name().0;
        if depth == 2 && name == "Record" && self.correlation.is_some() {
            let attrs = Attrs::read(tag, here)?;
            self.correlation_child(&attrs);
            return Ok(());
        }
        if depth != 1 {
            // Metadata, workout events and routes, correlation children of other types.
            return Ok(());
        }
        match name {
            "Record" => {
                let attrs = Attrs::read(tag, here)?;
                self.record(&attrs, here);
            }
            "Correlation" => {
                let attrs = Attrs::read(tag, here)?;
                let ty = attrs.ty.as_deref().unwrap_or("Correlation");
                if ty != BLOOD_PRESSURE_CORRELATION {
                    self.not_imported(ty, here);
                } else if has_children {
                    let effective = effective(&attrs);
                    let device = self.devices.get(&attrs);
                    self.correlation = Some(Correlation {
                        line: here.line_number(),
                        effective,
                        device,
                        systolic: None,
                        diastolic: None,
                        problem: None,
                    });
                } else {
                    self.report.skip(
                        here.line(),
                        format!("{ty}: no systolic and diastolic records"),
                    );
                }
            }
            // The export's date and the person's characteristics: not records.
            "ExportDate" | "Me" => {}
            // Workout, ActivitySummary, ClinicalRecord, Audiogram, VisionPrescription, …
            other => self.not_imported(other, here),
        }
        Ok(())
    }

    /// A top-level element closed.
    fn close_top_level(&mut self) {
        let Some(c) = self.correlation.take() else {
            return;
        };
        let position = format!("line {}", c.line);
        let reading = match (c.problem, c.systolic, c.diastolic) {
            (Some(problem), _, _) => Err(problem),
            (None, Some(systolic), Some(diastolic)) => Ok(Reading::BloodPressure {
                systolic,
                diastolic,
            }),
            (None, None, _) => Err(format!("{BLOOD_PRESSURE_CORRELATION}: no systolic record")),
            (None, _, None) => Err(format!("{BLOOD_PRESSURE_CORRELATION}: no diastolic record")),
        };
        match (reading, c.effective) {
            (Ok(reading), Ok(effective)) => {
                self.report.read();
                self.sink.push(Sample {
                    metric: Metric::BloodPressure,
                    effective,
                    reading,
                    record_id: None,
                    device: Some(c.device),
                    vendor_code: Some(BLOOD_PRESSURE_CORRELATION.to_owned()),
                });
            }
            (Err(reason), _) | (_, Err(reason)) => self.report.skip(position, reason),
        }
    }

    fn correlation_child(&mut self, attrs: &Attrs<'_>) {
        let Some(c) = self.correlation.as_mut() else {
            return;
        };
        let ty = attrs.ty.as_deref().unwrap_or_default();
        let slot = match ty {
            SYSTOLIC => &mut c.systolic,
            DIASTOLIC => &mut c.diastolic,
            _ => return,
        };
        let unit = attrs.unit.as_deref().unwrap_or_default();
        match number(ty, attrs) {
            Ok(v) if unit == "mmHg" => *slot = Some(v),
            Ok(_) => {
                c.problem
                    .get_or_insert_with(|| format!("{ty}: unit `{}` is not mmHg", unescaped(unit)));
            }
            Err(reason) => {
                c.problem.get_or_insert(reason);
            }
        }
    }

    /// A top-level `Record`.
    fn record(&mut self, attrs: &Attrs<'_>, here: &Here<'_>) {
        let Some(ty) = attrs.ty.as_deref() else {
            self.report.skip(here.line(), "Record without a type");
            return;
        };
        let sample = if let Some((metric, unit)) = quantity_type(ty) {
            self.quantity(ty, metric, unit, attrs)
        } else if ty == SLEEP {
            self.sleep(attrs)
        } else if ty == SYSTOLIC || ty == DIASTOLIC {
            // The copy of a blood-pressure correlation's child: read with the correlation.
            return;
        } else {
            self.not_imported(ty, here);
            return;
        };
        match sample {
            Ok(sample) => {
                self.report.read();
                self.sink.push(sample);
            }
            Err(reason) => self.report.skip(here.line(), reason),
        }
    }

    fn quantity(
        &mut self,
        ty: &str,
        metric: Metric,
        unit: Unit,
        attrs: &Attrs<'_>,
    ) -> Result<Sample, String> {
        let value = number(ty, attrs)?;
        let from = attrs.unit.as_deref().unwrap_or_default();
        let value = unit.convert(from, value).ok_or_else(|| {
            format!(
                "{ty}: unit `{}` cannot be converted to {}",
                unescaped(from),
                metric.info().unit
            )
        })?;
        let effective = effective(attrs).map_err(|e| format!("{ty}: {e}"))?;
        Ok(Sample {
            metric,
            effective,
            reading: Reading::Quantity(value),
            record_id: None,
            device: Some(self.devices.get(attrs)),
            vendor_code: Some(ty.to_owned()),
        })
    }

    fn sleep(&mut self, attrs: &Attrs<'_>) -> Result<Sample, String> {
        let value = attrs.value.as_deref().unwrap_or_default();
        let stage = sleep_stage(value)
            .ok_or_else(|| format!("{SLEEP}: unknown sleep value `{}`", unescaped(value)))?;
        let (start, end) = match (attrs.start.as_deref(), attrs.end.as_deref()) {
            (Some(start), Some(end)) => (start, end),
            _ => return Err(format!("{SLEEP}: no startDate or endDate")),
        };
        let (start_text, start_s) = apple_date(start)
            .ok_or_else(|| format!("{SLEEP}: startDate `{}` is not a date", unescaped(start)))?;
        let (end_text, end_s) = apple_date(end)
            .ok_or_else(|| format!("{SLEEP}: endDate `{}` is not a date", unescaped(end)))?;
        if end_s < start_s {
            return Err(format!("{SLEEP}: ends before it starts"));
        }
        Ok(Sample {
            metric: Metric::Sleep,
            effective: Effective::Period {
                start: start_text,
                end: end_text,
            },
            reading: Reading::Sleep {
                stages: vec![(stage, (end_s - start_s) as f64 / 60.0)],
            },
            record_id: None,
            device: Some(self.devices.get(attrs)),
            vendor_code: Some(SLEEP.to_owned()),
        })
    }

    /// Counts a record or element that is not imported, under its type.
    fn not_imported(&mut self, ty: &str, here: &Here<'_>) {
        if let Some((count, _)) = self.not_imported.get_mut(ty) {
            *count += 1;
        } else {
            self.not_imported
                .insert(ty.to_owned(), (1, here.line_number()));
        }
    }

    /// The report: one entry per type not imported (in order of first appearance), then the
    /// records skipped one by one, up to [`ParseReport::MAX_SKIPPED`] entries.
    fn finish(self) -> ParseReport {
        let mut report = self.report;
        let mut types: Vec<(String, (u64, u64))> = self.not_imported.into_iter().collect();
        types.sort_by_key(|(_, (_, first_line))| *first_line);
        let mut skipped: Vec<Skipped> = Vec::with_capacity(types.len() + report.skipped.len());
        for (ty, (count, first_line)) in types {
            report.records += count;
            report.skipped_total += count;
            let plural = if count == 1 { "" } else { "s" };
            skipped.push(Skipped {
                position: format!("line {first_line}"),
                reason: format!("{ty}: not imported ({count} record{plural})"),
            });
        }
        skipped.append(&mut report.skipped);
        skipped.truncate(ParseReport::MAX_SKIPPED);
        report.skipped = skipped;
        report
    }
}

/// The record's `value` as a number.
fn number(ty: &str, attrs: &Attrs<'_>) -> Result<f64, String> {
    let Some(text) = attrs.value.as_deref() else {
        return Err(format!("{ty}: no value"));
    };
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{ty}: value `{}` is not a number", unescaped(text))),
    }
}

/// An attribute value as the person would read it, for messages.
fn unescaped(raw: &str) -> Cow<'_, str> {
    quick_xml::escape::unescape(raw).unwrap_or(Cow::Borrowed(raw))
}

/// The canonical unit a quantity type is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// `/min`.
    PerMinute,
    /// `ms`.
    Milliseconds,
    /// `{steps}`.
    Count,
    /// `m`.
    Metres,
    /// `cm`.
    Centimetres,
    /// `kcal`.
    Kilocalories,
    /// `%` from Apple's 0–1 fraction.
    PercentFromFraction,
    /// `kg`.
    Kilograms,
    /// `Cel`.
    Celsius,
    /// `mg/dL`.
    MilligramsPerDecilitre,
    /// `mL/min/kg`.
    Vo2,
}

impl Unit {
    /// `value` in Apple's unit `from` (as written in the file) in this unit; `None` for a
    /// unit of another dimension or one not known.
    fn convert(self, from: &str, value: f64) -> Option<f64> {
        use Unit::*;
        Some(match (self, from) {
            (PerMinute, "count/min") => value,
            (PerMinute, "count/s") => value * 60.0,
            (Milliseconds, "ms") => value,
            (Milliseconds, "s") => value * 1000.0,
            (Count, "count") => value,
            (Metres, "m") => value,
            (Metres, "km") => value * 1000.0,
            (Metres, "cm") => value / 100.0,
            (Metres, "mi") => value * 1609.344,
            (Metres, "yd") => value * 0.9144,
            (Metres, "ft") => value * 0.3048,
            (Centimetres, "cm") => value,
            (Centimetres, "m") => value * 100.0,
            (Centimetres, "mm") => value / 10.0,
            (Centimetres, "in") => value * 2.54,
            (Centimetres, "ft") => value * 30.48,
            // HealthKit's `Cal` is the large (food) calorie, `cal` the small one.
            (Kilocalories, "kcal" | "Cal") => value,
            (Kilocalories, "kJ") => value / 4.184,
            (Kilocalories, "cal") => value / 1000.0,
            (Kilocalories, "J") => value / 4184.0,
            (PercentFromFraction, "%") => value * 100.0,
            (Kilograms, "kg") => value,
            (Kilograms, "g") => value / 1000.0,
            (Kilograms, "lb") => value * 0.45359237,
            (Kilograms, "oz") => value * 0.028349523125,
            (Kilograms, "st") => value * 6.35029318,
            (Celsius, "degC") => value,
            (Celsius, "degF") => (value - 32.0) * 5.0 / 9.0,
            (Celsius, "K") => value - 273.15,
            (MilligramsPerDecilitre, "mg/dL") => value,
            // Apple writes the molar mass into the unit: `mmol<180.1558800000541>/L`,
            // escaped in the file as `mmol&lt;180.1558800000541&gt;/L`.
            (MilligramsPerDecilitre, unit) if unit.starts_with("mmol") && unit.ends_with("/L") => {
                value * GLUCOSE_MG_PER_DL_PER_MMOL_PER_L
            }
            (Vo2, "mL/min·kg" | "mL/kg·min" | "mL/(kg·min)" | "mL/(kg*min)") => value,
            _ => return None,
        })
    }
}

/// The quantity types imported, with their metric and canonical unit.
fn quantity_type(ty: &str) -> Option<(Metric, Unit)> {
    Some(match ty {
        "HKQuantityTypeIdentifierHeartRate" => (Metric::HeartRate, Unit::PerMinute),
        "HKQuantityTypeIdentifierRestingHeartRate" => (Metric::RestingHeartRate, Unit::PerMinute),
        "HKQuantityTypeIdentifierHeartRateVariabilitySDNN" => (Metric::HrvSdnn, Unit::Milliseconds),
        "HKQuantityTypeIdentifierStepCount" => (Metric::Steps, Unit::Count),
        "HKQuantityTypeIdentifierDistanceWalkingRunning" => (Metric::Distance, Unit::Metres),
        "HKQuantityTypeIdentifierActiveEnergyBurned" => (Metric::ActiveEnergy, Unit::Kilocalories),
        "HKQuantityTypeIdentifierOxygenSaturation" => {
            (Metric::OxygenSaturation, Unit::PercentFromFraction)
        }
        "HKQuantityTypeIdentifierRespiratoryRate" => (Metric::RespiratoryRate, Unit::PerMinute),
        "HKQuantityTypeIdentifierBodyMass" => (Metric::BodyWeight, Unit::Kilograms),
        "HKQuantityTypeIdentifierHeight" => (Metric::BodyHeight, Unit::Centimetres),
        "HKQuantityTypeIdentifierBodyTemperature" => (Metric::BodyTemperature, Unit::Celsius),
        "HKQuantityTypeIdentifierBloodGlucose" => {
            (Metric::BloodGlucose, Unit::MilligramsPerDecilitre)
        }
        "HKQuantityTypeIdentifierVO2Max" => (Metric::Vo2Max, Unit::Vo2),
        "HKQuantityTypeIdentifierBodyFatPercentage" => (Metric::BodyFat, Unit::PercentFromFraction),
        _ => return None,
    })
}

/// `HKCategoryValueSleepAnalysis…` (or its raw number: inBed 0, asleepUnspecified 1,
/// awake 2, asleepCore 3, asleepDeep 4, asleepREM 5) → stage. `Asleep` is the name before
/// iOS 16 split it into stages.
fn sleep_stage(value: &str) -> Option<SleepStage> {
    let name = value
        .strip_prefix("HKCategoryValueSleepAnalysis")
        .unwrap_or(value);
    Some(match name {
        "InBed" | "0" => SleepStage::InBed,
        "AsleepUnspecified" | "Asleep" | "1" => SleepStage::Asleep,
        "Awake" | "2" => SleepStage::Awake,
        "AsleepCore" | "3" => SleepStage::Light,
        "AsleepDeep" | "4" => SleepStage::Deep,
        "AsleepREM" | "5" => SleepStage::Rem,
        _ => return None,
    })
}

/// `startDate`/`endDate` → an instant when equal, else a period (which must not end before
/// it starts).
fn effective(attrs: &Attrs<'_>) -> Result<Effective, String> {
    let (Some(start), Some(end)) = (attrs.start.as_deref(), attrs.end.as_deref()) else {
        return Err("no startDate or endDate".to_owned());
    };
    let (start_text, start_s) = apple_date(start)
        .ok_or_else(|| format!("startDate `{}` is not a date", unescaped(start)))?;
    if start == end {
        return Ok(Effective::Instant(start_text));
    }
    let (end_text, end_s) =
        apple_date(end).ok_or_else(|| format!("endDate `{}` is not a date", unescaped(end)))?;
    if end_s < start_s {
        return Err(format!("ends ({end_text}) before it starts ({start_text})"));
    }
    Ok(Effective::Period {
        start: start_text,
        end: end_text,
    })
}

/// Apple's `2019-06-11 15:00:00 -0700` → (`2019-06-11T15:00:00-07:00`, seconds since the
/// Unix epoch).
fn apple_date(text: &str) -> Option<(String, i64)> {
    let b = text.as_bytes();
    if b.len() != 25
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b' '
        || !matches!(b[20], b'+' | b'-')
    {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    let (offset_h, offset_m) = (digits(21, 23)?, digits(23, 25)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || offset_h > 14
        || offset_m > 59
    {
        return None;
    }
    let sign = if b[20] == b'-' { -1 } else { 1 };
    let offset = sign * (offset_h * 3600 + offset_m * 60);
    let epoch =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let mut fhir = String::with_capacity(25);
    fhir.push_str(&text[..10]);
    fhir.push('T');
    fhir.push_str(&text[11..19]);
    fhir.push_str(&text[20..23]);
    fhir.push(':');
    fhir.push_str(&text[23..25]);
    Some((fhir, epoch))
}

/// Recently seen `(sourceName, device)` pairs with their [`DeviceInfo`], so the device
/// string is parsed once per device rather than once per record.
#[derive(Default)]
struct DeviceCache {
    /// Lookup key: sourceName, NUL, the device string from `name:` on (the `0x…` object
    /// address before it differs between records of the same device).
    entries: Vec<(Vec<u8>, DeviceInfo)>,
    key: Vec<u8>,
}

impl DeviceCache {
    fn get(&mut self, attrs: &Attrs<'_>) -> DeviceInfo {
        let source = attrs.source_name.as_deref().unwrap_or_default();
        let device = attrs.device.as_deref().unwrap_or_default();
        let tail = device.find("name:").map_or(device, |i| &device[i..]);
        self.key.clear();
        self.key.extend_from_slice(source.as_bytes());
        self.key.push(0);
        self.key.extend_from_slice(tail.as_bytes());
        if let Some((_, info)) = self.entries.iter().find(|(k, _)| *k == self.key) {
            return info.clone();
        }
        let info = device_info(&unescaped(source), &unescaped(device));
        if self.entries.len() == DEVICE_CACHE {
            self.entries.remove(0);
        }
        self.entries.push((self.key.clone(), info.clone()));
        info
    }
}

/// The fields of HealthKit's device description
/// `<<HKDevice: 0x3012772a0>, name:Apple Watch, manufacturer:Apple Inc., model:Watch,
/// hardware:Watch6,7, software:10.2>`.
#[derive(Debug, Default, PartialEq, Eq)]
struct HkDevice<'a> {
    name: Option<&'a str>,
    manufacturer: Option<&'a str>,
    model: Option<&'a str>,
    hardware: Option<&'a str>,
    software: Option<&'a str>,
}

impl<'a> HkDevice<'a> {
    /// Splits at `, key:`; a `, ` not followed by a `key:` belongs to the value before it
    /// (`hardware:Watch6,7` has a comma too, without the space).
    fn parse(text: &'a str) -> HkDevice<'a> {
        let text = text.trim();
        let body = text.strip_suffix('>').unwrap_or(text);
        let body = match body.find(">, ") {
            Some(i) if body.starts_with("<<") => &body[i + 3..],
            _ => body,
        };
        let mut device = HkDevice::default();
        let mut field: Option<(&str, usize)> = None;
        let mut value_end = 0;
        let mut pos = 0;
        loop {
            let end = body[pos..].find(", ").map_or(body.len(), |i| pos + i);
            let segment = &body[pos..end];
            let key = segment
                .find(':')
                .filter(|&i| i > 0 && segment[..i].bytes().all(|b| b.is_ascii_alphanumeric()));
            if let Some(i) = key {
                if let Some((key, start)) = field {
                    device.set(key, &body[start..value_end]);
                }
                field = Some((&segment[..i], pos + i + 1));
            }
            value_end = end;
            if end == body.len() {
                break;
            }
            pos = end + 2;
        }
        if let Some((key, start)) = field {
            device.set(key, &body[start..value_end]);
        }
        device
    }

    fn set(&mut self, key: &str, value: &'a str) {
        let value = value.trim();
        let value = (!value.is_empty() && value != "(null)").then_some(value);
        match key {
            "name" => self.name = value,
            "manufacturer" => self.manufacturer = value,
            "model" => self.model = value,
            "hardware" => self.hardware = value,
            "software" => self.software = value,
            _ => {}
        }
    }
}

/// The device of a record: from its `device` description when it has one (key: name, model
/// and hardware, so one watch is one device across records and exports), else from its
/// `sourceName` (the app or device that wrote it).
fn device_info(source_name: &str, device: &str) -> DeviceInfo {
    let hk = HkDevice::parse(device);
    if device.is_empty() || (hk.name.is_none() && hk.model.is_none() && hk.hardware.is_none()) {
        return DeviceInfo {
            key: source_name.to_owned(),
            name: (!source_name.is_empty()).then(|| source_name.to_owned()),
            manufacturer: None,
            model: None,
            version: None,
            kind: guess_kind(source_name).unwrap_or(DeviceKind::Other),
        };
    }
    let key = [hk.name, hk.model, hk.hardware]
        .map(Option::unwrap_or_default)
        .join("/");
    let kind = [hk.model, hk.name, Some(source_name)]
        .into_iter()
        .flatten()
        .find_map(guess_kind)
        .unwrap_or(DeviceKind::Other);
    DeviceInfo {
        key,
        name: hk.name.or(Some(source_name)).map(str::to_owned),
        manufacturer: hk.manufacturer.map(str::to_owned),
        model: hk.model.map(str::to_owned),
        version: hk.software.map(str::to_owned),
        kind,
    }
}

/// The kind of device a model or name suggests.
fn guess_kind(text: &str) -> Option<DeviceKind> {
    let text = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    Some(if has(&["iphone"]) {
        DeviceKind::Phone
    } else if has(&["watch"]) {
        DeviceKind::Watch
    } else if has(&["oura"]) {
        DeviceKind::Ring
    } else if has(&["scale"]) {
        DeviceKind::Scale
    } else if has(&["blood pressure", "bpm"]) {
        DeviceKind::BloodPressureMonitor
    } else if has(&["glucose", "dexcom", "libre"]) {
        DeviceKind::GlucoseMeter
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_dates_keep_their_offset() {
        assert_eq!(
            apple_date("2019-06-11 15:00:00 -0700"),
            Some(("2019-06-11T15:00:00-07:00".to_owned(), 1_560_290_400))
        );
        assert_eq!(
            apple_date("2024-02-29 00:00:00 +0000"),
            Some(("2024-02-29T00:00:00+00:00".to_owned(), 1_709_164_800))
        );
        for bad in [
            "2023-02-29 00:00:00 +0000",
            "2019-06-11T15:00:00-07:00",
            "2019-06-11 15:00:00",
            "2019-13-11 15:00:00 -0700",
            "2019-06-11 24:00:00 -0700",
            "2019-06-11 15:00:00 -07:00",
        ] {
            assert_eq!(apple_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn device_description_fields() {
        let d = HkDevice::parse(
            "<<HKDevice: 0x3012772a0>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,7, software:10.2>",
        );
        assert_eq!(
            d,
            HkDevice {
                name: Some("Apple Watch"),
                manufacturer: Some("Apple Inc."),
                model: Some("Watch"),
                hardware: Some("Watch6,7"),
                software: Some("10.2"),
            }
        );
        // A ", " inside a value without a `key:` after it stays in the value.
        let d = HkDevice::parse(
            "<<HKDevice: 0x1>, name:Body+, Withings, manufacturer:Withings, model:WBS05, localIdentifier:x>",
        );
        assert_eq!(d.name, Some("Body+, Withings"));
        assert_eq!(d.model, Some("WBS05"));
        assert_eq!(d.hardware, None);
    }

    #[test]
    fn device_kinds_from_model_name_or_source() {
        let watch = device_info(
            "Ann's Apple Watch",
            "<<HKDevice: 0x1>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch3,2, software:5.2.1>",
        );
        assert_eq!(watch.key, "Apple Watch/Watch/Watch3,2");
        assert_eq!(watch.kind, DeviceKind::Watch);
        let phone = device_info(
            "Ann's iPhone",
            "<<HKDevice: 0x2>, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone12,1, software:14.0>",
        );
        assert_eq!(phone.kind, DeviceKind::Phone);
        assert_eq!(device_info("Ann's iPhone", "").kind, DeviceKind::Phone);
        assert_eq!(device_info("Health", "").kind, DeviceKind::Other);
        assert_eq!(device_info("Health", "").key, "Health");
    }
}
