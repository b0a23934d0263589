//! Corpus files as a stream of documents, for [`crate::prepare`].
//!
//! Inputs are read in the order given, each through its decompressor (gzip, zstd), and cut into
//! *records*: a whole file, a segment between two separators, or a JSON line. A record becomes a
//! document (its text), or is skipped and counted: empty text, or a bad JSON line when the caller
//! asked to skip those. Records are numbered across all inputs; that number is what a resumed run
//! skips (without decoding or parsing) to get back to where the last complete shard ended.
//!
//! Memory stays bounded whatever the input size: a batch holds about `batch_bytes` of text plus
//! the one record that crosses that line, and separator-split text is read in 1 MiB blocks. Only a
//! whole-file record is as large as its file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;
use memchr::memmem;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// Block size for file reads and separator scanning.
const BLOCK: usize = 1 << 20;

/// How an input file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (also several concatenated members, as `cat a.gz b.gz` makes).
    Gzip,
    /// Zstandard (several frames and skippable frames too).
    Zstd,
}

impl Compression {
    /// The compression a file name's extension says: `.gz`, `.zst` / `.zstd`, else none.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst") | Some("zstd") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// How a file is cut into records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFormat {
    /// The whole file is one record.
    WholeFile,
    /// Records separated by this (non-empty) string; a trailing separator ends the last record.
    Separated(String),
    /// JSON Lines: one object per line (blank lines are ignored); the document is the string at
    /// this key path (`["meta", "text"]` for `meta.text`).
    JsonLines(Vec<String>),
}

/// One input file.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    /// How it is cut into records.
    pub format: RecordFormat,
    /// How it is compressed.
    pub compression: Compression,
}

/// What to do with bytes that are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf8Policy {
    /// An error naming the file and the byte offset.
    Strict,
    /// Each invalid sequence becomes U+FFFD (as Python's `errors="replace"`).
    Replace,
}

/// How records are read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Invalid UTF-8 handling.
    pub utf8: Utf8Policy,
    /// Skip and count malformed JSON lines (and lines without the field) instead of failing.
    pub skip_bad_records: bool,
    /// A batch is closed once it holds this much text.
    pub batch_bytes: usize,
}

/// Running counts over the record stream. `records` counts every record consumed, documents and
/// skipped ones alike; resuming after a position means skipping its `records`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Records consumed.
    pub records: u64,
    /// Empty records skipped.
    pub empty: u64,
    /// Malformed records skipped (only with `skip_bad_records`).
    pub bad: u64,
}

/// A batch of documents: their text in one buffer, and where each stands in the record stream.
#[derive(Debug, Default)]
pub struct DocumentBatch {
    /// All documents' text, back to back.
    pub text: String,
    /// Each document's byte range in `text`.
    pub documents: Vec<Range<usize>>,
    /// The stream position just after each document.
    pub positions: Vec<Position>,
    /// The stream position after the batch (it may have skipped records after its last document).
    pub end: Position,
    /// Bytes read from the input files so far (compressed bytes for compressed files).
    pub input_bytes: u64,
    /// Records dropped unread in this batch because a resumed run already holds them.
    pub resume_skipped: u64,
}

/// Reads documents from input files, in order, in batches.
pub struct DocumentReader {
    inputs: std::vec::IntoIter<InputFile>,
    current: Option<OpenInput>,
    options: ReadOptions,
    position: Position,
    skip: u64,
    input_bytes: Arc<AtomicU64>,
    record: Vec<u8>,
}

impl DocumentReader {
    /// A reader over `inputs` whose counts continue from `start`, and which first drops `skip`
    /// records without reading them into documents or counting them (a resumed run: they are
    /// already in its shards, and in `start`).
    pub fn new(inputs: Vec<InputFile>, options: ReadOptions, start: Position, skip: u64) -> Self {
        DocumentReader {
            inputs: inputs.into_iter(),
            current: None,
            options,
            position: start,
            skip,
            input_bytes: Arc::new(AtomicU64::new(0)),
            record: Vec::new(),
        }
    }

    /// The next batch, or `None` once every input is read. A batch may hold no documents when all
    /// its records were skipped; its `end` still moves.
    pub fn next_batch(&mut self) -> Result<Option<DocumentBatch>> {
        let mut batch = DocumentBatch::default();
        let start = self.position;
        while batch.text.len() < self.options.batch_bytes {
            let input = match self.current.as_mut() {
                Some(input) => input,
                None => match self.inputs.next() {
                    Some(file) => {
                        self.current = Some(OpenInput::open(file, self.input_bytes.clone())?);
                        continue;
                    }
                    None => break,
                },
            };
            let discard = self.skip > 0;
            let found = input
                .next_record(&mut self.record, discard)
                .map_err(|e| read_error(&input.path, input.compression, e))?;
            let Some(record) = found else {
                self.current = None;
                continue;
            };
            if discard {
                self.skip -= 1;
                batch.resume_skipped += 1;
                continue;
            }
            self.position.records += 1;
            match input.document_text(&self.record, record, &self.options) {
                Ok(text) if text.is_empty() => self.position.empty += 1,
                Ok(text) => {
                    let begin = batch.text.len();
                    batch.text.push_str(&text);
                    batch.documents.push(begin..batch.text.len());
                    batch.positions.push(self.position);
                }
                Err(error)
                    if self.options.skip_bad_records && error.kind() == ErrorKind::InvalidInput =>
                {
                    self.position.bad += 1
                }
                Err(error) => return Err(error),
            }
        }
        if self.position == start && batch.documents.is_empty() && batch.resume_skipped == 0 {
            return Ok(None);
        }
        batch.end = self.position;
        batch.input_bytes = self.input_bytes.load(Ordering::Relaxed);
        Ok(Some(batch))
    }
}

fn read_error(path: &Path, compression: Compression, error: io::Error) -> Error {
    let what = match compression {
        Compression::None => "cannot read",
        Compression::Gzip => "cannot read or decompress (gzip)",
        Compression::Zstd => "cannot read or decompress (zstd)",
    };
    Error::new(
        ErrorKind::Io,
        format!("{}: {what}: {error}", path.display()),
    )
}

/// Where a record starts: its byte offset in the (decompressed) file, and its line for JSON Lines.
#[derive(Debug, Clone, Copy)]
struct RecordStart {
    offset: u64,
    line: u64,
}

/// One open input: its decompressed byte stream and the state of cutting it into records.
struct OpenInput {
    path: PathBuf,
    format: RecordFormat,
    compression: Compression,
    source: Box<dyn BufRead + Send>,
    /// Decompressed bytes consumed before `pending[head..]`.
    offset: u64,
    line: u64,
    finished: bool,
    /// Separated text: bytes read but not yet cut, from `head`.
    pending: Vec<u8>,
    head: usize,
    /// Separated text: no separator starts in `pending[head..searched]`.
    searched: usize,
    finder: Option<memmem::Finder<'static>>,
}

impl OpenInput {
    fn open(file: InputFile, counter: Arc<AtomicU64>) -> Result<Self> {
        let handle = File::open(&file.path).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("{}: cannot open: {e}", file.path.display()),
            )
        })?;
        let raw = BufReader::with_capacity(
            BLOCK,
            CountingReader {
                inner: handle,
                count: counter,
            },
        );
        let source: Box<dyn BufRead + Send> = match file.compression {
            Compression::None => Box::new(raw),
            Compression::Gzip => {
                Box::new(BufReader::with_capacity(BLOCK, MultiGzDecoder::new(raw)))
            }
            Compression::Zstd => Box::new(BufReader::with_capacity(BLOCK, ZstdReader::new(raw))),
        };
        let finder = match &file.format {
            RecordFormat::Separated(separator) => {
                Some(memmem::Finder::new(separator.as_bytes()).into_owned())
            }
            _ => None,
        };
        Ok(OpenInput {
            path: file.path,
            format: file.format,
            compression: file.compression,
            source,
            offset: 0,
            line: 0,
            finished: false,
            pending: Vec::new(),
            head: 0,
            searched: 0,
            finder,
        })
    }

    /// Puts the next record's bytes in `out` (unless `discard`, when they may be left out) and
    /// says where it started; `None` at the end of the file.
    fn next_record(&mut self, out: &mut Vec<u8>, discard: bool) -> io::Result<Option<RecordStart>> {
        out.clear();
        match &self.format {
            RecordFormat::WholeFile => {
                if self.finished {
                    return Ok(None);
                }
                self.finished = true;
                if !discard {
                    self.source.read_to_end(out)?;
                }
                Ok(Some(RecordStart { offset: 0, line: 1 }))
            }
            RecordFormat::Separated(_) => self.next_separated(out, discard),
            RecordFormat::JsonLines(_) => loop {
                let start = self.offset;
                let read = self.source.read_until(b'\n', out)?;
                if read == 0 {
                    return Ok(None);
                }
                self.offset += read as u64;
                self.line += 1;
                while matches!(out.last(), Some(b'\n' | b'\r')) {
                    out.pop();
                }
                if out.iter().all(|b| b.is_ascii_whitespace()) {
                    out.clear();
                    continue;
                }
                return Ok(Some(RecordStart {
                    offset: start,
                    line: self.line,
                }));
            },
        }
    }

    fn next_separated(
        &mut self,
        out: &mut Vec<u8>,
        discard: bool,
    ) -> io::Result<Option<RecordStart>> {
        let finder = self.finder.as_ref().expect("separated input has a finder");
        let separator_len = finder.needle().len();
        loop {
            let window = &self.pending[self.searched..];
            if let Some(found) = finder.find(window) {
                let end = self.searched + found;
                if !discard {
                    out.extend_from_slice(&self.pending[self.head..end]);
                }
                let start = self.offset;
                self.offset += (end + separator_len - self.head) as u64;
                self.head = end + separator_len;
                self.searched = self.head;
                return Ok(Some(RecordStart {
                    offset: start,
                    line: 0,
                }));
            }
            // No separator starts before the last `separator_len - 1` bytes.
            self.searched = self
                .pending
                .len()
                .saturating_sub(separator_len - 1)
                .max(self.head);
            if self.finished {
                if self.head == self.pending.len() {
                    return Ok(None);
                }
                if !discard {
                    out.extend_from_slice(&self.pending[self.head..]);
                }
                let start = self.offset;
                self.offset += (self.pending.len() - self.head) as u64;
                self.head = self.pending.len();
                self.searched = self.head;
                return Ok(Some(RecordStart {
                    offset: start,
                    line: 0,
                }));
            }
            // Drop what was cut, then read the next block.
            self.pending.drain(..self.head);
            self.searched -= self.head;
            self.head = 0;
            let before = self.pending.len();
            self.pending.resize(before + BLOCK, 0);
            let read = loop {
                match self.source.read(&mut self.pending[before..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.pending.truncate(before);
                        return Err(e);
                    }
                }
            };
            self.pending.truncate(before + read);
            if read == 0 {
                self.finished = true;
            }
        }
    }

    /// The document text of a record, or an `InvalidInput` / `InvalidUtf8` error naming the place.
    fn document_text<'r>(
        &self,
        bytes: &'r [u8],
        start: RecordStart,
        options: &ReadOptions,
    ) -> Result<Cow<'r, str>> {
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(invalid) => match options.utf8 {
                Utf8Policy::Replace => String::from_utf8_lossy(bytes),
                Utf8Policy::Strict => {
                    let offset = start.offset + invalid.valid_up_to() as u64;
                    let stream = if self.compression == Compression::None {
                        ""
                    } else {
                        " of the decompressed data"
                    };
                    let line = match self.format {
                        RecordFormat::JsonLines(_) => format!(" (line {})", start.line),
                        _ => String::new(),
                    };
                    return Err(Error::new(
                        ErrorKind::InvalidUtf8,
                        format!(
                            "{}: invalid UTF-8 at byte offset {offset}{stream}{line}; \
                             use errors=\"replace\" to substitute U+FFFD",
                            self.path.display()
                        ),
                    ));
                }
            },
        };
        match &self.format {
            RecordFormat::JsonLines(field) => {
                let found = match text {
                    Cow::Borrowed(line) => json_field(line, field),
                    Cow::Owned(line) => {
                        json_field(&line, field).map(|t| Cow::Owned(t.into_owned()))
                    }
                };
                found.map_err(|why| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!("{}: line {}: {why}", self.path.display(), start.line),
                    )
                })
            }
            _ => Ok(text),
        }
    }
}

/// The string at key path `field` of the JSON object on `line`, or why there is none.
fn json_field<'l>(line: &'l str, field: &[String]) -> std::result::Result<Cow<'l, str>, String> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let found = FieldSeed { path: field }.deserialize(&mut deserializer);
    if let (Ok(Some(text)), Ok(())) = (found, deserializer.end()) {
        return Ok(text);
    }
    // Anything else is rare: parse again into a `Value` to say exactly what is wrong.
    explain_json_field(line, field).map(Cow::Owned)
}

/// Finds the string at a key path while parsing, without building the other values: the text is
/// borrowed from the line when it has no escapes, and every other field is only validated
/// (`IgnoredAny`). This keeps the reader thread's share of the cores small (measured: parsing
/// into a `serde_json::Value` cost about a tenth of the encoding time on two cores).
struct FieldSeed<'p> {
    path: &'p [String],
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    /// The string, or `None` when the path is missing or leads to something else.
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then_some(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then_some(Cow::Owned(text)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.path.split_first() {
                // A repeated key: the last one counts, as in Python's json.
                Some((wanted, rest)) if *wanted == *key => {
                    found = map.next_value_seed(FieldSeed { path: rest })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Why the string at key path `field` of `line` cannot be had (or, in odd cases the fast path
/// declines, the string itself).
fn explain_json_field(line: &str, field: &[String]) -> std::result::Result<String, String> {
    let mut value: Value =
        serde_json::from_str(line).map_err(|e| format!("not a valid JSON line ({e})"))?;
    for (depth, key) in field.iter().enumerate() {
        let here = field[..depth].join(".");
        value = match value {
            Value::Object(mut object) => match object.remove(key) {
                Some(inner) => inner,
                None => {
                    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
                    let place = if here.is_empty() {
                        "the object".to_string()
                    } else {
                        format!("\"{here}\"")
                    };
                    return Err(format!(
                        "no field \"{key}\" in {place} (its keys: {})",
                        if keys.is_empty() {
                            "none".to_string()
                        } else {
                            keys.join(", ")
                        }
                    ));
                }
            },
            other if depth == 0 => {
                return Err(format!("the line is {}, not an object", json_type(&other)))
            }
            other => {
                return Err(format!(
                    "\"{here}\" is {}, not an object",
                    json_type(&other)
                ))
            }
        };
    }
    match value {
        Value::String(text) => Ok(text),
        other => Err(format!(
            "field \"{}\" is {}, not a string",
            field.join("."),
            json_type(&other)
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Counts the bytes read from a file, for progress (compressed bytes for compressed files).
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// A Zstandard stream of any number of frames (ruzstd's own reader stops after the first).
struct ZstdReader<R> {
    source: R,
    frame: FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> ZstdReader<R> {
    fn new(source: R) -> Self {
        ZstdReader {
            source,
            frame: FrameDecoder::new(),
            in_frame: false,
        }
    }
}

impl<R: BufRead> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                while self.frame.can_collect() < buf.len() && !self.frame.is_finished() {
                    let wanted = buf.len() - self.frame.can_collect();
                    self.frame
                        .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
                        .map_err(io::Error::other)?;
                }
                let read = self.frame.read(buf)?;
                if read > 0 {
                    return Ok(read);
                }
                self.in_frame = false;
            }
            if self.source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            match self.frame.reset(&mut self.source) {
                Ok(()) => self.in_frame = true,
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    io::copy(
                        &mut (&mut self.source).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                }
                Err(error) => return Err(io::Error::other(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrotok-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn read_all(
        inputs: Vec<InputFile>,
        options: ReadOptions,
        resume: Position,
    ) -> (Vec<String>, Position) {
        let mut reader = DocumentReader::new(inputs, options, resume, resume.records);
        let mut docs = Vec::new();
        let mut end = resume;
        while let Some(batch) = reader.next_batch().unwrap() {
            for range in &batch.documents {
                docs.push(batch.text[range.clone()].to_string());
            }
            end = batch.end;
        }
        (docs, end)
    }

    fn options() -> ReadOptions {
        ReadOptions {
            utf8: Utf8Policy::Strict,
            skip_bad_records: false,
            batch_bytes: 7,
        }
    }

    #[test]
    fn separated_text_skips_empty_records_and_resumes() {
        let path = write_temp("sep.txt", b"one<|sep|>two<|sep|><|sep|>three<|sep|>");
        let input = InputFile {
            path,
            format: RecordFormat::Separated("<|sep|>".into()),
            compression: Compression::None,
        };
        let complete = Position {
            records: 4,
            empty: 1,
            bad: 0,
        };
        let (docs, end) = read_all(vec![input.clone()], options(), Position::default());
        assert_eq!(docs, ["one", "two", "three"]);
        assert_eq!(end, complete);
        // Resuming after two records gives the rest, with the counts carried on.
        let resume = Position {
            records: 2,
            empty: 0,
            bad: 0,
        };
        let (docs, end) = read_all(vec![input], options(), resume);
        assert_eq!(docs, ["three"]);
        assert_eq!(end, complete);
    }

    #[test]
    fn json_lines_take_a_nested_field_and_report_what_is_missing() {
        let path = write_temp(
            "docs.jsonl",
            b"{\"meta\": {\"text\": \"a\"}}\n\n{\"meta\": {\"text\": \"b\\u00e9\"}}\r\n{\"meta\": {}}\n",
        );
        let input = InputFile {
            path,
            format: RecordFormat::JsonLines(vec!["meta".into(), "text".into()]),
            compression: Compression::None,
        };
        let mut reader =
            DocumentReader::new(vec![input.clone()], options(), Position::default(), 0);
        let error = loop {
            match reader.next_batch() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the missing field was not reported"),
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(
            error
                .message()
                .contains("line 4: no field \"text\" in \"meta\""),
            "{error}"
        );
        let skipping = ReadOptions {
            skip_bad_records: true,
            ..options()
        };
        let (docs, end) = read_all(vec![input], skipping, Position::default());
        assert_eq!(docs, ["a", "bé"]);
        assert_eq!(
            end,
            Position {
                records: 3,
                empty: 0,
                bad: 1
            }
        );
    }

    #[test]
    fn separators_across_read_blocks() {
        // Records of many sizes, so that separators straddle the 1 MiB block edges.
        let separator = "<|s|>";
        let records: Vec<String> = (0..3000)
            .map(|i| "é".repeat((i * 7919) % 1500) + &i.to_string())
            .collect();
        let path = write_temp("blocks.txt", records.join(separator).as_bytes());
        assert!(records.join(separator).len() > 3 * BLOCK);
        let input = InputFile {
            path,
            format: RecordFormat::Separated(separator.into()),
            compression: Compression::None,
        };
        let big_batches = ReadOptions {
            batch_bytes: 1 << 20,
            ..options()
        };
        let (docs, end) = read_all(vec![input], big_batches, Position::default());
        assert_eq!(docs, records);
        assert_eq!(end.records, 3000);
    }

    #[test]
    fn json_field_cases() {
        let text = |path: &str| -> Vec<String> { path.split('.').map(str::to_string).collect() };
        let cases: &[(&str, &str, Result<&str, &str>)] = &[
            (r#"{"text": "plain"}"#, "text", Ok("plain")),
            (
                r#"{"text": "caf\u00e9 \"q\"\n"}"#,
                "text",
                Ok("café \"q\"\n"),
            ),
            (
                r#"{"a": [1, {"text": 2}], "m": {"text": "deep"}}"#,
                "m.text",
                Ok("deep"),
            ),
            (r#"{"text": "first", "text": "last"}"#, "text", Ok("last")),
            (r#"{"text": 1, "text": "last"}"#, "text", Ok("last")),
            (
                r#"{"text": "x"} trailing"#,
                "text",
                Err("not a valid JSON line"),
            ),
            (r#"{"text": "x""#, "text", Err("not a valid JSON line")),
            (
                r#"{"body": "x"}"#,
                "text",
                Err("no field \"text\" in the object (its keys: body)"),
            ),
            (
                r#"{"m": 3}"#,
                "m.text",
                Err("\"m\" is a number, not an object"),
            ),
            (
                r#"{"text": null}"#,
                "text",
                Err("field \"text\" is null, not a string"),
            ),
            (
                r#"["text"]"#,
                "text",
                Err("the line is an array, not an object"),
            ),
        ];
        for &(line, path, expected) in cases {
            let found = json_field(line, &text(path));
            match expected {
                Ok(value) => assert_eq!(found.as_deref(), Ok(value), "{line}"),
                Err(message) => {
                    let error = found.unwrap_err();
                    assert!(error.starts_with(message), "{line}: {error}")
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_names_the_byte_offset_or_is_replaced() {
        let path = write_temp("bad.txt", b"ok\nalso ok \xff!");
        let input = InputFile {
            path,
            format: RecordFormat::WholeFile,
            compression: Compression::None,
        };
        let mut reader =
            DocumentReader::new(vec![input.clone()], options(), Position::default(), 0);
        let error = reader.next_batch().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidUtf8);
        assert!(error.message().contains("byte offset 11"), "{error}");
        let replacing = ReadOptions {
            utf8: Utf8Policy::Replace,
            ..options()
        };
        let (docs, _) = read_all(vec![input], replacing, Position::default());
        assert_eq!(docs, ["ok\nalso ok \u{fffd}!"]);
    }

    #[test]
    fn gzip_members_are_all_read() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut bytes = Vec::new();
        for part in ["{\"text\": \"x\"}\n", "{\"text\": \"y\"}\n"] {
            let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(part.as_bytes()).unwrap();
            bytes.extend(encoder.finish().unwrap());
        }
        let path = write_temp("two.jsonl.gz", &bytes);
        let input = InputFile {
            compression: Compression::from_path(&path),
            path,
            format: RecordFormat::JsonLines(vec!["text".into()]),
        };
        let (docs, _) = read_all(vec![input], options(), Position::default());
        assert_eq!(docs, ["x", "y"]);
    }
}
