//! Reading and writing resources in the [JSON](https://hl7.org/fhir/R4/json.html) and
//! [XML](https://hl7.org/fhir/R4/xml.html) formats.
//!
//! Why this shape: the server keeps resources as `serde_json::Value` (decimals keep their
//! text, element order is kept), so JSON is parsed by serde_json and checked by our own
//! [`validate`](crate::validate) pass; XML goes through the typed fhirbolt model in
//! `fhir-codec` (its only caller) and then takes the very same JSON path, so both formats
//! are held to the same rules. JSON is read with a visitor of our own that refuses
//! duplicate keys (serde_json keeps the last one silently) and relies on serde_json's
//! recursion limit of 128, then [`MAX_DEPTH`](crate::validate::MAX_DEPTH), so deep input
//! is refused without overflowing the stack. Error messages give positions, never content.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::ModelError;
use crate::outcome::{Issue, IssueType};
use crate::validate::{ParseMode, validate};

/// A resource serialization format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/fhir+json`
    Json,
    /// `application/fhir+xml`
    Xml,
}

impl Format {
    /// The FHIR MIME type of the format.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Json => "application/fhir+json",
            Format::Xml => "application/fhir+xml",
        }
    }
}

/// A parsed and validated resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The resource as FHIR JSON (with unknown elements removed in lenient mode).
    pub resource: Value,
    /// Warnings (in lenient mode: the elements that were removed).
    pub warnings: Vec<Issue>,
}

/// Parses one resource and checks it against the R4 structures
/// (see [`validate`](crate::validate::validate)).
///
/// Malformed content gives [`ModelError::Syntax`] (with line and column for JSON); content
/// that does not fit R4 (including duplicate JSON keys and nesting deeper than
/// [`MAX_DEPTH`](crate::validate::MAX_DEPTH)) gives [`ModelError::Invalid`]. In
/// [`ParseMode::Lenient`], unknown JSON elements are removed and reported as warnings
/// (XML is always read strictly: fhirbolt refuses unknown XML elements).
///
/// ```
/// use fhir_model::format::{parse_resource, Format};
/// use fhir_model::validate::ParseMode;
///
/// let json = br#"{"resourceType":"Patient","birthDate":"1970-01-01","active":true}"#;
/// let parsed = parse_resource(json, Format::Json, ParseMode::Strict).unwrap();
/// assert_eq!(parsed.resource["birthDate"], "1970-01-01");
///
/// let xml = br#"<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>"#;
/// let parsed = parse_resource(xml, Format::Xml, ParseMode::Strict).unwrap();
/// assert_eq!(parsed.resource["active"], true);
///
/// let err = parse_resource(br#"{"resourceType":"Patient","birthDate":"soon"}"#,
///                          Format::Json, ParseMode::Strict).unwrap_err();
/// assert_eq!(err.issues()[0].expression.as_deref(), Some("Patient.birthDate"));
///
/// let lenient = parse_resource(br#"{"resourceType":"Patient","foo":1}"#,
///                              Format::Json, ParseMode::Lenient).unwrap();
/// assert_eq!(lenient.warnings.len(), 1);
/// assert!(lenient.resource.get("foo").is_none());
/// ```
pub fn parse_resource(bytes: &[u8], format: Format, mode: ParseMode) -> Result<Parsed, ModelError> {
    let converted;
    let json = match format {
        Format::Json => bytes,
        Format::Xml => {
            let depth = check_xml_balance(bytes)?;
            converted = on_codec_stack(depth, || fhir_codec::xml_to_json(bytes))?.map_err(|e| {
                let message = e.to_string();
                if message.starts_with("invalid XML") {
                    ModelError::Syntax {
                        format: "XML",
                        message,
                    }
                } else {
                    ModelError::Invalid(vec![Issue::error(
                        IssueType::Structure,
                        format!("Invalid FHIR XML: {message}"),
                    )])
                }
            })?;
            &converted
        }
    };
    let mut resource = parse_json(json)?;
    if format == Format::Xml {
        restore_narratives_from_xml(bytes, &mut resource);
    }
    let warnings = validate(&mut resource, mode)?;
    Ok(Parsed { resource, warnings })
}

/// The stack of the thread that runs a fhirbolt conversion. fhirbolt reads and writes
/// recursively with large frames (≈ 30 KB a level in a debug build): about 60 nested
/// elements exhaust a 2 MB stack (tokio's default for worker threads) and abort the
/// process. Conversions therefore run on a thread of their own, whose stack is reserved
/// (not committed) up front; with [`MAX_XML_DEPTH`] and serde_json's JSON limit of 128
/// this is ample.
const CODEC_STACK: usize = 256 << 20;

/// Up to this nesting (XML elements, or JSON levels) a conversion runs on the caller's
/// thread: measured to need well under 1 MB of stack in a debug build.
const INLINE_DEPTH: usize = 16;

/// Runs a codec call, on a thread with [`CODEC_STACK`] of stack when the content is
/// nested deeper than [`INLINE_DEPTH`] (starting a thread costs ≈ 100 µs, so shallow
/// content, nearly all of it, runs inline). On that thread a panic in fhirbolt becomes an
/// error instead of taking the caller down.
fn on_codec_stack<T: Send>(depth: usize, f: impl FnOnce() -> T + Send) -> Result<T, ModelError> {
    if depth <= INLINE_DEPTH {
        return Ok(f());
    }
    let failed = |what: &str| {
        ModelError::Invalid(vec![Issue::error(
            IssueType::Exception,
            format!("XML conversion {what}"),
        )])
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("fhir-codec".to_owned())
            .stack_size(CODEC_STACK)
            .spawn_scoped(scope, f)
            .map_err(|_| failed("could not start"))?
            .join()
            .map_err(|_| failed("failed"))
    })
}

/// The nesting depth of a JSON value (counting stops a little past serde_json's limit).
fn json_depth(value: &Value, level: usize) -> usize {
    if level > 130 {
        return level;
    }
    match value {
        Value::Object(o) => o
            .values()
            .map(|v| json_depth(v, level + 1))
            .max()
            .unwrap_or(level + 1),
        Value::Array(a) => a
            .iter()
            .map(|v| json_depth(v, level + 1))
            .max()
            .unwrap_or(level + 1),
        _ => level,
    }
}

/// The deepest XML element nesting read (resources plus narrative XHTML; about twice
/// what [`MAX_DEPTH`](crate::validate::MAX_DEPTH) allows in JSON, where arrays count too).
const MAX_XML_DEPTH: usize = 200;

/// Checks that XML elements are balanced with one root (fhirbolt stops reading at the
/// end of the resource and would accept a truncated document) and not nested too deeply.
/// Comments, processing instructions, CDATA and quoted attribute values are skipped; the
/// rest of well-formedness is fhirbolt's (quick-xml's) business. Returns the depth.
/// well-formedness is fhirbolt's (quick-xml's) business.
fn check_xml_balance(xml: &[u8]) -> Result<usize, ModelError> {
    let syntax = |message: String| ModelError::Syntax {
        format: "XML",
        message,
    };
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut roots = 0;
    let mut max_depth = 0;
    let mut i = 0;
    while let Some(p) = xml[i..].iter().position(|&b| b == b'<') {
        let start = i + p;
        let rest = &xml[start..];
        let skip_to = |end: &[u8]| {
            rest.windows(end.len())
                .position(|w| w == end)
                .map(|q| start + q + end.len())
        };
        let end = if rest.starts_with(b"<!--") {
            skip_to(b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            skip_to(b"]]>")
        } else if rest.starts_with(b"<?") {
            skip_to(b"?>")
        } else if rest.starts_with(b"<!") {
            return Err(syntax("DOCTYPE declarations are not allowed".to_owned()));
        } else {
            let end = tag_end(xml, start);
            let tag = &xml[start..end];
            if !tag.ends_with(b">") {
                return Err(syntax("unterminated tag at end of document".to_owned()));
            }
            let name_end = |t: &[u8], from: usize| {
                t[from..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
                    .map_or(t.len(), |q| from + q)
            };
            if tag.starts_with(b"</") {
                let name = &tag[2..name_end(tag, 2)];
                if stack.pop() != Some(name) {
                    return Err(syntax(format!("mismatched end tag at byte {start}")));
                }
            } else {
                let name = &tag[1..name_end(tag, 1)];
                if stack.is_empty() {
                    roots += 1;
                    if roots > 1 {
                        return Err(syntax(format!("more than one root element (byte {start})")));
                    }
                }
                if !tag.ends_with(b"/>") {
                    stack.push(name);
                    max_depth = max_depth.max(stack.len());
                    // fhirbolt reads recursively: refuse depths that could exhaust the stack.
                    if stack.len() > MAX_XML_DEPTH {
                        return Err(ModelError::Invalid(vec![Issue::error(
                            IssueType::TooCostly,
                            format!("XML is nested deeper than {MAX_XML_DEPTH} elements"),
                        )]));
                    }
                }
            }
            Some(end)
        };
        match end {
            Some(e) => i = e,
            None => {
                return Err(syntax(
                    "unterminated comment, CDATA or processing instruction".to_owned(),
                ));
            }
        }
    }
    if !stack.is_empty() {
        return Err(syntax("unclosed element at end of document".to_owned()));
    }
    if roots == 0 {
        return Err(syntax("no root element".to_owned()));
    }
    Ok(max_depth)
}

/// Parses JSON text into a `Value` without validating it as FHIR, refusing duplicate
/// keys and nesting deeper than serde_json's limit of 128 (a leading UTF-8 byte order
/// mark is skipped).
///
/// ```
/// use fhir_model::format::parse_json;
/// assert!(parse_json(br#"{"a":1.50}"#).unwrap()["a"].to_string() == "1.50");
/// assert!(parse_json(br#"{"a":1,"a":2}"#).is_err());
/// assert!(parse_json(b"{").is_err());
/// ```
pub fn parse_json(bytes: &[u8]) -> Result<Value, ModelError> {
    // RFC 8259 lets a parser ignore a byte order mark; Windows clients send one.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(v)) => Ok(v),
        Err(e) => Err(json_error(&e)),
    }
}

fn json_error(e: &serde_json::Error) -> ModelError {
    use serde_json::error::Category;
    let message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        return ModelError::Invalid(vec![Issue::error(
            IssueType::TooCostly,
            format!(
                "JSON is nested too deeply (line {}, column {})",
                e.line(),
                e.column()
            ),
        )]);
    }
    match e.classify() {
        Category::Data => ModelError::Invalid(vec![Issue::error(IssueType::Structure, message)]),
        Category::Syntax | Category::Eof | Category::Io => ModelError::Syntax {
            format: "JSON",
            message,
        },
    }
}

/// Writes a resource as FHIR JSON (element order and decimal text as held).
///
/// ```
/// let r = serde_json::json!({"resourceType": "Basic", "code": {"text": "x"}});
/// assert_eq!(fhir_model::format::to_json(&r, false), br#"{"resourceType":"Basic","code":{"text":"x"}}"#);
/// ```
pub fn to_json(resource: &Value, pretty: bool) -> Vec<u8> {
    let out = if pretty {
        serde_json::to_vec_pretty(resource)
    } else {
        serde_json::to_vec(resource)
    };
    out.expect("a serde_json::Value always serializes")
}

/// Writes a resource as FHIR XML, through the typed model of `fhir-codec`; `pretty`
/// indents it (narrative XHTML is left as it is).
///
/// Fails with [`ModelError::Invalid`] when the resource does not fit the typed model.
///
/// ```
/// use fhir_model::format::{parse_json, to_xml};
/// let r = parse_json(br#"{"resourceType": "Observation", "status": "final",
///     "code": {"text": "x"}, "valueQuantity": {"value": 1.50}}"#).unwrap();
/// let xml = String::from_utf8(to_xml(&r, true).unwrap()).unwrap();
/// assert!(xml.contains("\n  <valueQuantity>\n    <value value=\"1.50\"/>"), "{xml}");
/// ```
pub fn to_xml(resource: &Value, pretty: bool) -> Result<Vec<u8>, ModelError> {
    let json = to_json(resource, false);
    let xml = on_codec_stack(json_depth(resource, 0), || fhir_codec::json_to_xml(&json))?.map_err(
        |e| {
            ModelError::Invalid(vec![Issue::error(
                IssueType::Structure,
                format!("The resource cannot be written as XML: {e}"),
            )])
        },
    )?;
    let xml = restore_narratives_in_xml(resource, xml);
    Ok(if pretty { indent_xml(&xml) } else { xml })
}

// fhirbolt trims the text nodes of narrative XHTML in both directions ("9:15am: <b>Busy</b>
// Physiotherapy" becomes "9:15am:<b>Busy</b>Physiotherapy"), which changes what a person
// reads. The narratives are therefore carried over verbatim: the n-th XHTML `div` of the
// XML is the n-th `div` string of the JSON (both are in document order), and each one is
// replaced only when it equals fhirbolt's version but for whitespace and entity spelling.

/// Byte ranges of the narrative XHTML `div` elements of an XML document, in order.
fn xhtml_divs(xml: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = xml[i..].iter().position(|&b| b == b'<') {
        let start = i + p;
        let end = tag_end(xml, start);
        let tag = &xml[start..end];
        if tag.starts_with(b"<div")
            && tag
                .windows(28)
                .any(|w| w == b"http://www.w3.org/1999/xhtml")
        {
            let stop = if tag.ends_with(b"/>") {
                end
            } else {
                xhtml_end(xml, start)
            };
            out.push(start..stop);
            i = stop;
        } else {
            i = end.max(start + 1);
        }
    }
    out
}

/// The `div` strings of a resource (narratives), in document order.
fn json_divs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                match v {
                    Value::String(s) if k == "div" => out.push(s),
                    _ => json_divs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| json_divs(v, out)),
        _ => {}
    }
}

fn json_divs_mut<'a>(value: &'a mut Value, out: &mut Vec<&'a mut String>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                if k == "div"
                    && let Value::String(s) = v
                {
                    out.push(s);
                    continue;
                }
                json_divs_mut(v, out);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| json_divs_mut(v, out)),
        _ => {}
    }
}

/// XHTML with whitespace dropped and optional escapes spelled out, for comparison.
fn xhtml_essence(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let mut replaced = false;
        for (entity, ch) in [
            (&b"&quot;"[..], b'"'),
            (b"&apos;", b'\''),
            (b"&#39;", b'\''),
            (b"&gt;", b'>'),
        ] {
            if rest.starts_with(entity) {
                out.push(ch);
                i += entity.len();
                replaced = true;
                break;
            }
        }
        if !replaced {
            if !text[i].is_ascii_whitespace() {
                out.push(if text[i] == b'\'' { b'"' } else { text[i] });
            }
            i += 1;
        }
    }
    out
}

fn restore_narratives_from_xml(xml: &[u8], resource: &mut Value) {
    let ranges = xhtml_divs(xml);
    let mut divs = Vec::new();
    json_divs_mut(resource, &mut divs);
    if ranges.len() != divs.len() {
        return;
    }
    for (range, div) in ranges.into_iter().zip(divs) {
        let original = &xml[range];
        if let Ok(text) = std::str::from_utf8(original)
            && xhtml_essence(original) == xhtml_essence(div.as_bytes())
        {
            text.clone_into(div);
        }
    }
}

fn restore_narratives_in_xml(resource: &Value, xml: Vec<u8>) -> Vec<u8> {
    let ranges = xhtml_divs(&xml);
    let mut divs = Vec::new();
    json_divs(resource, &mut divs);
    if ranges.is_empty() || ranges.len() != divs.len() {
        return xml;
    }
    let mut out = Vec::with_capacity(xml.len() + xml.len() / 8);
    let mut last = 0;
    for (range, div) in ranges.into_iter().zip(divs) {
        out.extend_from_slice(&xml[last..range.start]);
        let written = &xml[range.clone()];
        if xhtml_essence(written) == xhtml_essence(div.as_bytes()) {
            out.extend_from_slice(div.as_bytes());
        } else {
            out.extend_from_slice(written);
        }
        last = range.end;
    }
    out.extend_from_slice(&xml[last..]);
    out
}

/// Re-indents XML as written by fhirbolt (elements and attributes only, apart from
/// narrative XHTML, which is copied untouched because whitespace there is content).
fn indent_xml(xml: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(xml.len() + xml.len() / 4);
    let mut level: usize = 0;
    let mut i = 0;
    let mut first = true;
    while i < xml.len() {
        if xml[i] != b'<' {
            // Text between tags: only whitespace outside XHTML; drop it.
            let end = xml[i..]
                .iter()
                .position(|&b| b == b'<')
                .map_or(xml.len(), |p| i + p);
            let text = &xml[i..end];
            if !text.iter().all(u8::is_ascii_whitespace) {
                out.extend_from_slice(text);
            }
            i = end;
            continue;
        }
        let end = tag_end(xml, i);
        let tag = &xml[i..end];
        let closing = tag.starts_with(b"</");
        let self_closing = tag.ends_with(b"/>") || tag.starts_with(b"<?") || tag.starts_with(b"<!");
        if closing {
            level = level.saturating_sub(1);
        }
        if !first {
            out.push(b'\n');
        }
        first = false;
        out.extend(std::iter::repeat_n(b' ', level * 2));
        if tag.starts_with(b"<div") && !self_closing {
            // Copy the XHTML element verbatim up to its matching `</div>`.
            let stop = xhtml_end(xml, i);
            out.extend_from_slice(&xml[i..stop]);
            i = stop;
            continue;
        }
        out.extend_from_slice(tag);
        if !closing && !self_closing {
            level += 1;
        }
        i = end;
    }
    out.push(b'\n');
    out
}

/// The index just past the `>` that ends the tag starting at `start` (quotes respected).
fn tag_end(xml: &[u8], start: usize) -> usize {
    let mut quote = None;
    for (j, &b) in xml.iter().enumerate().skip(start) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return j + 1,
            _ => {}
        }
    }
    xml.len()
}

/// The index just past the `</div>` matching the `<div` at `start`.
fn xhtml_end(xml: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < xml.len() {
        if xml[i] == b'<' {
            let end = tag_end(xml, i);
            let tag = &xml[i..end];
            if tag.starts_with(b"</div") {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return end;
                }
            } else if tag.starts_with(b"<div") && !tag.ends_with(b"/>") {
                depth += 1;
            }
            i = end;
        } else {
            i += 1;
        }
    }
    xml.len()
}

/// A `Value` read with duplicate keys refused.
struct StrictValue(Value);

/// The key under which serde_json (with `arbitrary_precision`) hands a number's text to
/// a visitor.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("invalid number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == NUMBER_TOKEN && out.is_empty() {
                // A number, as serde_json hands it over with `arbitrary_precision`.
                let text: String = map.next_value()?;
                return Number::from_str(&text)
                    .map(Value::Number)
                    .map_err(|_| de::Error::custom("invalid number"));
            }
            let StrictValue(value) = map.next_value()?;
            if out.contains_key(&key) {
                let name = if key.len() <= 64
                    && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    key.as_str()
                } else {
                    "(unprintable name)"
                };
                return Err(de::Error::custom(format!(
                    "Duplicate JSON property '{name}'"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text() {
        let text = br#"{"a":[1.50,-0,1e3,12345678901234567890123,0.1000]}"#;
        let v = parse_json(text).unwrap();
        // serde_json spells exponents with a sign; everything else is kept as written.
        assert_eq!(
            String::from_utf8(to_json(&v, false)).unwrap(),
            r#"{"a":[1.50,-0,1e+3,12345678901234567890123,0.1000]}"#
        );
        assert_eq!(v, serde_json::from_slice::<Value>(text).unwrap());
    }

    #[test]
    fn duplicate_key_is_located() {
        let e = parse_json(b"{\n\"a\":1,\n\"a\":2}").unwrap_err();
        let text = e.issues()[0].diagnostics.clone();
        assert!(
            text.contains("Duplicate JSON property 'a'") && text.contains("line 3"),
            "{text}"
        );
    }

    #[test]
    fn indent_keeps_xhtml() {
        let xml = br#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>a <b>b</b></p></div></text><active value="true"/></Patient>"#;
        let out = String::from_utf8(indent_xml(xml)).unwrap();
        assert_eq!(
            out,
            "<Patient xmlns=\"http://hl7.org/fhir\">\n  <text>\n    <status value=\"generated\"/>\n    <div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a <b>b</b></p></div>\n  </text>\n  <active value=\"true\"/>\n</Patient>\n"
        );
    }
}
