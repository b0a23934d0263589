//! Token shards on disk, for [`crate::prepare`]: the formats, the shard files and the manifest.
//!
//! Formats (`PREFIX` is the output prefix, or `PREFIX-00000`, `PREFIX-00001`, … when sharded):
//!
//! - `megatron`: the Megatron-LM / NeMo indexed dataset. `PREFIX.bin` holds the tokens back to
//!   back; `PREFIX.idx` is the header `MMIDIDX\0\0`, version 1 (u64), the dtype code (u8:
//!   uint16 = 8, int32 = 4), the sequence count and the document-index count (u64 each), then
//!   the sequence lengths (int32), the byte offset of each sequence in `.bin` (int64) and the
//!   document indices (int64: 0, then the end of each document in sequences). One document is one
//!   sequence, as `preprocess_data.py` writes it without sentence splitting.
//! - `bin`: nanoGPT's flat file: `PREFIX.bin` holds raw little-endian tokens (uint16 or uint32)
//!   and `PREFIX.docs.npy` the document boundaries (int64, documents + 1 entries).
//! - `npy`: `PREFIX.npy`, the tokens as a 1-D array, and `PREFIX.docs.npy` as for `bin`.
//!
//! Every format also gets the manifest `PREFIX.json` (the run's settings, the shards and their
//! counts, and whether the run is complete), which `ferrotok.TokenDataset` reads and which a
//! resumed run continues from.
//!
//! Crash safety: a file is written under `NAME.partial` and renamed to `NAME` once complete and
//! synced, the index (`.idx`, `.docs.npy`) last; so a file under its final name is always whole,
//! and a shard is readable exactly when its index exists. The manifest is replaced the same way
//! after each shard. A killed run leaves only `.partial` files, which the next run removes.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};

use super::input::Position;

/// The suffix of files being written.
pub const PARTIAL: &str = ".partial";

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Megatron-LM / NeMo `.bin` + `.idx`.
    Megatron,
    /// Flat tokens (`.bin`) + document boundaries (`.docs.npy`).
    Bin,
    /// A `.npy` array + document boundaries (`.docs.npy`).
    Npy,
}

impl Format {
    /// The format's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Megatron => "megatron",
            Format::Bin => "bin",
            Format::Npy => "npy",
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "megatron" => Ok(Format::Megatron),
            "bin" => Ok(Format::Bin),
            "npy" => Ok(Format::Npy),
            other => Err(Error::argument(format!(
                "unknown output format {other:?} (expected megatron, bin or npy)"
            ))),
        }
    }

    /// The files of a shard named `base`, the index last (it is renamed last).
    pub fn files(self, base: &Path) -> [PathBuf; 2] {
        let with = |suffix: &str| {
            let mut name = base.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        match self {
            Format::Megatron => [with(".bin"), with(".idx")],
            Format::Bin => [with(".bin"), with(".docs.npy")],
            Format::Npy => [with(".npy"), with(".docs.npy")],
        }
    }
}

/// The integer type tokens are stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// 2 bytes: vocabularies of up to 65,536 ids.
    U16,
    /// 4 bytes. Megatron has no unsigned 32-bit code, so it is written as int32 there (ids stay
    /// below 2^31 in every real vocabulary; larger ones are rejected).
    U32,
}

impl TokenType {
    /// The smallest type that holds ids up to `max_id`.
    pub fn for_max_id(max_id: u32) -> Self {
        if max_id <= u32::from(u16::MAX) {
            TokenType::U16
        } else {
            TokenType::U32
        }
    }

    /// The type named `name` (`uint16`, `uint32`; `int32` is accepted as Megatron's name).
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "uint16" => Ok(TokenType::U16),
            "uint32" | "int32" => Ok(TokenType::U32),
            other => Err(Error::argument(format!(
                "unknown token dtype {other:?} (expected uint16 or uint32)"
            ))),
        }
    }

    /// Bytes per token.
    pub fn size(self) -> usize {
        match self {
            TokenType::U16 => 2,
            TokenType::U32 => 4,
        }
    }

    /// The largest id this type can store in `format`.
    fn max_id(self, format: Format) -> u32 {
        match (self, format) {
            (TokenType::U16, _) => u32::from(u16::MAX),
            (TokenType::U32, Format::Megatron) => i32::MAX as u32,
            (TokenType::U32, _) => u32::MAX,
        }
    }

    /// The numpy name of the stored type in `format`.
    pub fn numpy_name(self, format: Format) -> &'static str {
        match (self, format) {
            (TokenType::U16, _) => "uint16",
            (TokenType::U32, Format::Megatron) => "int32",
            (TokenType::U32, _) => "uint32",
        }
    }

    fn npy_descr(self) -> &'static str {
        match self {
            TokenType::U16 => "<u2",
            TokenType::U32 => "<u4",
        }
    }

    fn megatron_code(self) -> u8 {
        match self {
            TokenType::U16 => 8,
            TokenType::U32 => 4,
        }
    }
}

/// Where and how shards are written.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// The output prefix (`data/train` gives `data/train.bin`, … and `data/train.json`).
    pub prefix: PathBuf,
    /// The format.
    pub format: Format,
    /// The token type.
    pub dtype: TokenType,
    /// Close a shard once it holds at least this many tokens (after a whole document); `None`
    /// writes one output.
    pub shard_tokens: Option<u64>,
    /// The run's settings as JSON, kept in the manifest so a resumed run can check them.
    pub settings: Value,
}

/// A complete shard, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// The shard's base name, relative to the prefix's directory.
    pub name: String,
    /// Documents in it.
    pub documents: u64,
    /// Tokens in it.
    pub tokens: u64,
    /// The record stream's position after its last document.
    pub end: Position,
}

impl ShardInfo {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "documents": self.documents,
            "tokens": self.tokens,
            "records_end": self.end.records,
            "empty_skipped": self.end.empty,
            "bad_skipped": self.end.bad,
        })
    }

    /// Reads a shard entry of a manifest.
    pub fn from_json(value: &Value) -> Option<Self> {
        let number = |key: &str| value.get(key).and_then(Value::as_u64);
        Some(ShardInfo {
            name: value.get("name")?.as_str()?.to_string(),
            documents: number("documents")?,
            tokens: number("tokens")?,
            end: Position {
                records: number("records_end")?,
                empty: number("empty_skipped")?,
                bad: number("bad_skipped")?,
            },
        })
    }
}

/// The totals of a finished run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Documents written.
    pub documents: u64,
    /// Tokens written.
    pub tokens: u64,
    /// The final stream position (records read, empty and bad ones skipped).
    pub end: Position,
    /// Shards written (including those of an earlier run that this one resumed).
    pub shards: usize,
}

/// The file paths of the manifest.
pub fn manifest_path(prefix: &Path) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Writes tokens of whole documents into shards.
pub struct ShardWriter {
    spec: OutputSpec,
    done: Vec<ShardInfo>,
    open: Option<OpenShard>,
    /// The stream position after the last document written.
    last: Position,
    scratch: Vec<u8>,
}

/// The shard being written.
struct OpenShard {
    base: PathBuf,
    data_path: PathBuf,
    data: BufWriter<File>,
    /// Token count of each document so far.
    lengths: Vec<u64>,
    tokens: u64,
}

impl ShardWriter {
    /// A writer that continues after `resumed` (the complete shards of an earlier run, or none),
    /// removing `.partial` files a killed run may have left.
    pub fn new(spec: OutputSpec, resumed: Vec<ShardInfo>) -> Result<Self> {
        if let Some(parent) = spec.prefix.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| io_error(parent, "cannot create", e))?;
        }
        let last = resumed.last().map(|s| s.end).unwrap_or_default();
        let writer = ShardWriter {
            spec,
            done: resumed,
            open: None,
            last,
            scratch: Vec::new(),
        };
        writer.remove_partials();
        Ok(writer)
    }

    /// The base path of shard `index`.
    fn shard_base(&self, index: usize) -> PathBuf {
        match self.spec.shard_tokens {
            None => self.spec.prefix.clone(),
            Some(_) => {
                let mut name = self.spec.prefix.as_os_str().to_owned();
                name.push(format!("-{index:05}"));
                PathBuf::from(name)
            }
        }
    }

    /// Appends documents: `ids[offsets[i]..offsets[i + 1]]` is document `i`, and `positions[i]`
    /// the stream position after it.
    pub fn write(&mut self, ids: &[u32], offsets: &[i64], positions: &[Position]) -> Result<()> {
        let max_id = self.spec.dtype.max_id(self.spec.format);
        for (document, position) in offsets.windows(2).zip(positions) {
            let tokens = &ids[document[0] as usize..document[1] as usize];
            if let Some(&too_big) = tokens.iter().find(|&&id| id > max_id) {
                return Err(Error::argument(format!(
                    "token id {too_big} does not fit the output dtype {}; use a larger dtype",
                    self.spec.dtype.numpy_name(self.spec.format)
                )));
            }
            if self.open.is_none() {
                self.open = Some(self.open_shard()?);
            }
            let shard = self.open.as_mut().expect("a shard is open");
            self.scratch.clear();
            match self.spec.dtype {
                TokenType::U16 => {
                    for &id in tokens {
                        self.scratch.extend_from_slice(&(id as u16).to_le_bytes());
                    }
                }
                TokenType::U32 => {
                    for &id in tokens {
                        self.scratch.extend_from_slice(&id.to_le_bytes());
                    }
                }
            }
            shard
                .data
                .write_all(&self.scratch)
                .map_err(|e| io_error(&shard.data_path, "cannot write", e))?;
            shard.lengths.push(tokens.len() as u64);
            shard.tokens += tokens.len() as u64;
            self.last = *position;
            if self
                .spec
                .shard_tokens
                .is_some_and(|limit| shard.tokens >= limit)
            {
                self.close_shard()?;
            }
        }
        Ok(())
    }

    /// Notes that the stream moved on to `end` past skipped records (no document after them yet).
    pub fn skipped_to(&mut self, end: Position) {
        self.last = end;
    }

    fn open_shard(&mut self) -> Result<OpenShard> {
        let base = self.shard_base(self.done.len());
        let [data_final, _] = self.spec.format.files(&base);
        let data_path = partial(&data_final);
        let file =
            File::create(&data_path).map_err(|e| io_error(&data_path, "cannot create", e))?;
        let mut data = BufWriter::with_capacity(1 << 20, file);
        if self.spec.format == Format::Npy {
            // Room for the header; the shape is known only at the end (see `npy_header`).
            data.write_all(&npy_header(self.spec.dtype.npy_descr(), 0))
                .map_err(|e| io_error(&data_path, "cannot write", e))?;
        }
        Ok(OpenShard {
            base,
            data_path,
            data,
            lengths: Vec::new(),
            tokens: 0,
        })
    }

    /// Completes the open shard: its data file, then its index, then the manifest.
    fn close_shard(&mut self) -> Result<()> {
        let Some(shard) = self.open.take() else {
            return Ok(());
        };
        let [data_final, index_final] = self.spec.format.files(&shard.base);
        let mut file = shard
            .data
            .into_inner()
            .map_err(|e| io_error(&shard.data_path, "cannot write", e.into_error()))?;
        if self.spec.format == Format::Npy {
            file.seek(SeekFrom::Start(0))
                .and_then(|_| {
                    file.write_all(&npy_header(self.spec.dtype.npy_descr(), shard.tokens))
                })
                .map_err(|e| io_error(&shard.data_path, "cannot write", e))?;
        }
        file.sync_all()
            .map_err(|e| io_error(&shard.data_path, "cannot write", e))?;
        drop(file);

        let index = match self.spec.format {
            Format::Megatron => megatron_index(&shard.lengths, self.spec.dtype),
            Format::Bin | Format::Npy => {
                let mut bounds = Vec::with_capacity(shard.lengths.len() + 1);
                let mut total = 0i64;
                bounds.push(0i64);
                for &length in &shard.lengths {
                    total += length as i64;
                    bounds.push(total);
                }
                let mut bytes = npy_header("<i8", bounds.len() as u64);
                for bound in bounds {
                    bytes.extend_from_slice(&bound.to_le_bytes());
                }
                bytes
            }
        };
        let index_partial = partial(&index_final);
        write_synced(&index_partial, &index)?;
        rename(&shard.data_path, &data_final)?;
        rename(&index_partial, &index_final)?;

        let name = shard
            .base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.done.push(ShardInfo {
            name,
            documents: shard.lengths.len() as u64,
            tokens: shard.tokens,
            end: self.last,
        });
        self.write_manifest(false, None)
    }

    /// Completes the run: the open shard, and the manifest marked complete. A run without any
    /// document still writes one (empty) shard, so the output always reads as a dataset.
    pub fn finish(mut self, end: Position) -> Result<Totals> {
        self.last = end;
        if self.open.is_none() && self.done.is_empty() {
            self.open = Some(self.open_shard()?);
        }
        self.close_shard()?;
        let totals = Totals {
            documents: self.done.iter().map(|s| s.documents).sum(),
            tokens: self.done.iter().map(|s| s.tokens).sum(),
            end,
            shards: self.done.len(),
        };
        self.write_manifest(true, Some(&totals))?;
        Ok(totals)
    }

    /// Abandons the open shard: its partial files are removed; complete shards stay (a resumed
    /// run continues after them).
    pub fn abort(mut self) {
        self.open = None;
        self.remove_partials();
    }

    fn remove_partials(&self) {
        let next = self.shard_base(self.done.len());
        for path in self.spec.format.files(&next) {
            let _ = fs::remove_file(partial(&path));
        }
        let _ = fs::remove_file(partial(&manifest_path(&self.spec.prefix)));
    }

    fn write_manifest(&self, complete: bool, totals: Option<&Totals>) -> Result<()> {
        let mut manifest = json!({
            "ferrotok_prepare": 1,
            "complete": complete,
            "format": self.spec.format.name(),
            "dtype": self.spec.dtype.numpy_name(self.spec.format),
            "settings": self.spec.settings,
            "shards": self.done.iter().map(ShardInfo::to_json).collect::<Vec<_>>(),
        });
        if let Some(totals) = totals {
            manifest["documents"] = json!(totals.documents);
            manifest["tokens"] = json!(totals.tokens);
            manifest["records"] = json!(totals.end.records);
            manifest["empty_skipped"] = json!(totals.end.empty);
            manifest["bad_skipped"] = json!(totals.end.bad);
        }
        let path = manifest_path(&self.spec.prefix);
        let mut text = serde_json::to_string_pretty(&manifest).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot serialize the manifest: {e}"),
            )
        })?;
        text.push('\n');
        let temporary = partial(&path);
        write_synced(&temporary, text.as_bytes())?;
        rename(&temporary, &path)
    }
}

impl Drop for ShardWriter {
    fn drop(&mut self) {
        // Dropped without `finish` (an error, Ctrl-C): leave no partial files behind.
        if self.open.take().is_some() {
            self.remove_partials();
        }
    }
}

/// The `.idx` file of a Megatron shard whose documents have `lengths` tokens.
fn megatron_index(lengths: &[u64], dtype: TokenType) -> Vec<u8> {
    let count = lengths.len() as u64;
    let mut bytes = Vec::with_capacity(34 + lengths.len() * 20 + 8);
    bytes.extend_from_slice(b"MMIDIDX\x00\x00");
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.push(dtype.megatron_code());
    bytes.extend_from_slice(&count.to_le_bytes());
    bytes.extend_from_slice(&(count + 1).to_le_bytes());
    for &length in lengths {
        bytes.extend_from_slice(&(length as i32).to_le_bytes());
    }
    let mut pointer = 0i64;
    for &length in lengths {
        bytes.extend_from_slice(&pointer.to_le_bytes());
        pointer += (length * dtype.size() as u64) as i64;
    }
    for index in 0..=count {
        bytes.extend_from_slice(&(index as i64).to_le_bytes());
    }
    bytes
}

/// A `.npy` (version 1.0) header for a 1-D array of `len` items of `descr`, always 128 bytes
/// long: the data file's header is written before its length is known and rewritten in place.
fn npy_header(descr: &str, len: u64) -> Vec<u8> {
    const TOTAL: usize = 128;
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}");
    // Magic (6) + version (2) + header length (2) + dict + padding + '\n' = TOTAL.
    let padding = TOTAL - 10 - dict.len() - 1;
    dict.push_str(&" ".repeat(padding));
    dict.push('\n');
    let mut bytes = Vec::with_capacity(TOTAL);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&((TOTAL - 10) as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes
}

fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PARTIAL);
    PathBuf::from(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| io_error(path, "cannot create", e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| io_error(path, "cannot write", e))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| io_error(to, "cannot rename into place", e))
}

fn io_error(path: &Path, what: &str, error: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("{}: {what}: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_128_bytes_for_any_length() {
        for len in [0, 7, u64::MAX] {
            let header = npy_header("<u2", len);
            assert_eq!(header.len(), 128);
            assert_eq!(header[127], b'\n');
        }
    }

    #[test]
    fn megatron_index_layout() {
        let index = megatron_index(&[3, 5], TokenType::U16);
        assert_eq!(&index[..9], b"MMIDIDX\x00\x00");
        assert_eq!(u64::from_le_bytes(index[9..17].try_into().unwrap()), 1);
        assert_eq!(index[17], 8);
        assert_eq!(u64::from_le_bytes(index[18..26].try_into().unwrap()), 2);
        assert_eq!(u64::from_le_bytes(index[26..34].try_into().unwrap()), 3);
        let lengths: Vec<i32> = index[34..42]
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(lengths, [3, 5]);
        let pointers: Vec<i64> = index[42..58]
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(pointers, [0, 6]);
        let documents: Vec<i64> = index[58..]
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(documents, [0, 1, 2]);
    }
}
