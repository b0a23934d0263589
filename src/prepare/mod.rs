//! Training-data preparation: a corpus in, token shards out (`ferrotok prepare`).
//!
//! Three stages overlap, each on its own thread, joined by channels that hold at most two batches
//! (that bound, with the batch size, is what keeps memory flat whatever the input size):
//!
//! ```text
//! reader thread ──batches of text──► caller's thread: encode on all cores ──ids──► writer thread
//! (files, gzip/zstd, JSON Lines)        (rayon, parallel::encode_flat)            (shards, index)
//! ```
//!
//! The caller drives the middle stage one batch at a time ([`Preparer::step`], or
//! [`Preparer::feed`] for documents it reads itself, like Parquet or a `datasets` column), so the
//! Python layer can show progress and answer Ctrl-C between batches.
//!
//! Determinism: batches are cut by text size and shards by token count, never by timing or thread
//! count, and every stage keeps document order; the same input gives byte-identical output with
//! any number of threads.

pub mod input;
pub mod output;

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{Error, ErrorKind, Result};
use crate::parallel;
use crate::tokenizer::{SpecialTokens, Tokenizer};

use self::input::{DocumentReader, InputFile, Position, ReadOptions};
use self::output::{OutputSpec, ShardInfo, ShardWriter, Totals};

/// Batches waiting between two stages. Two lets each stage work while the next one takes the
/// previous batch, and bounds memory at a few batches.
const CHANNEL_BATCHES: usize = 2;

/// What is added around each document's tokens.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocumentTokens {
    /// Put before each document.
    pub bos: Option<u32>,
    /// Put after each document (the end-of-text token).
    pub eos: Option<u32>,
}

/// Counts so far, for progress reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read from input files (compressed bytes for compressed files).
    pub input_bytes: u64,
    /// Bytes of document text encoded.
    pub text_bytes: u64,
    /// Documents encoded.
    pub documents: u64,
    /// Tokens produced (with BOS / EOS).
    pub tokens: u64,
    /// The record stream's position.
    pub position: Position,
}

enum WriterMessage {
    Batch {
        ids: Vec<u32>,
        offsets: Vec<i64>,
        positions: Vec<Position>,
        end: Position,
    },
    Finish(Position),
}

/// Encodes training documents into one flat buffer plus boundaries, on up to `threads` threads:
/// each document is `bos`, its text's tokens, `eos`. Special-token strings inside documents are
/// text (a corpus that quotes `<|endoftext|>` must not end a document there): tiktoken's
/// `encode_ordinary`, or `tokenizers` with `encode_special_tokens` (which still matches added
/// tokens that are not special). The post-processor does not run: the document tokens are added
/// here.
pub fn encode_documents<T: AsRef<str> + Sync>(
    tokenizer: &Tokenizer,
    documents: &[T],
    extra: DocumentTokens,
    threads: Option<usize>,
) -> (Vec<u32>, Vec<i64>) {
    let text_bytes: usize = documents.iter().map(|d| d.as_ref().len()).sum();
    parallel::encode_flat(
        documents,
        text_bytes,
        threads,
        &|text: &str, out: &mut Vec<u32>| encode_document(tokenizer, text, extra, out),
    )
}

/// Appends one training document's ids to `out`: `extra.bos`, the text with special-token
/// strings as text, `extra.eos`.
pub fn encode_document(
    tokenizer: &Tokenizer,
    text: &str,
    extra: DocumentTokens,
    out: &mut Vec<u32>,
) {
    out.extend(extra.bos);
    tokenizer.encode_with(text, SpecialTokens::NonSpecial, out);
    out.extend(extra.eos);
}

/// A preparation run in progress. Dropping it without [`Preparer::finish`] abandons the run: the
/// shard being written is removed, complete shards stay for a resume.
pub struct Preparer {
    tokenizer: Arc<Tokenizer>,
    extra: DocumentTokens,
    threads: Option<usize>,
    batches: Option<Receiver<Result<input::DocumentBatch>>>,
    reader: Option<JoinHandle<()>>,
    writer_input: Option<SyncSender<WriterMessage>>,
    writer: Option<JoinHandle<Result<Option<Totals>>>>,
    progress: Progress,
    /// Records still to drop because the resumed shards hold them.
    skip: u64,
}

impl Preparer {
    /// Starts a run writing to `output`, continuing after `resumed` shards of an earlier run.
    pub fn new(
        tokenizer: Arc<Tokenizer>,
        extra: DocumentTokens,
        threads: Option<usize>,
        output: OutputSpec,
        resumed: Vec<ShardInfo>,
    ) -> Result<Self> {
        let start = resumed.last().map(|s| s.end).unwrap_or_default();
        let mut shards = ShardWriter::new(output, resumed)?;
        let (sender, receiver) = sync_channel::<WriterMessage>(CHANNEL_BATCHES);
        let writer = std::thread::Builder::new()
            .name("ferrotok-writer".into())
            .spawn(move || -> Result<Option<Totals>> {
                for message in receiver {
                    match message {
                        WriterMessage::Batch {
                            ids,
                            offsets,
                            positions,
                            end,
                        } => {
                            shards.write(&ids, &offsets, &positions)?;
                            shards.skipped_to(end);
                        }
                        WriterMessage::Finish(end) => return shards.finish(end).map(Some),
                    }
                }
                // The sender went away without `Finish`: abandoned.
                shards.abort();
                Ok(None)
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start a thread: {e}")))?;
        Ok(Preparer {
            tokenizer,
            extra,
            threads,
            batches: None,
            reader: None,
            writer_input: Some(sender),
            writer: Some(writer),
            progress: Progress {
                position: start,
                ..Progress::default()
            },
            skip: start.records,
        })
    }

    /// Starts reading `inputs` on a background thread, skipping the records the resumed shards
    /// already hold; then call [`Preparer::step`] until it returns `None`.
    pub fn read_files(&mut self, inputs: Vec<InputFile>, options: ReadOptions) -> Result<()> {
        let mut reader = DocumentReader::new(inputs, options, self.progress.position, self.skip);
        let (sender, receiver) = sync_channel(CHANNEL_BATCHES);
        let handle = std::thread::Builder::new()
            .name("ferrotok-reader".into())
            .spawn(move || loop {
                let next = reader.next_batch().transpose();
                let last = !matches!(next, Some(Ok(_)));
                // A closed channel means the run was abandoned: stop reading.
                if let Some(next) = next {
                    if sender.send(next).is_err() {
                        return;
                    }
                }
                if last {
                    return;
                }
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start a thread: {e}")))?;
        self.batches = Some(receiver);
        self.reader = Some(handle);
        Ok(())
    }

    /// Encodes the next batch read from the files and hands it to the writer; `None` when the
    /// files are all read (then call [`Preparer::finish`]).
    pub fn step(&mut self) -> Result<Option<Progress>> {
        let Some(batches) = self.batches.as_ref() else {
            return Err(Error::argument("no input files were given to read"));
        };
        let batch = match batches.recv() {
            Ok(batch) => batch?,
            Err(_) => return Ok(None),
        };
        self.skip -= batch.resume_skipped;
        self.progress.input_bytes = batch.input_bytes;
        let documents: Vec<&str> = batch
            .documents
            .iter()
            .map(|range| &batch.text[range.clone()])
            .collect();
        self.encode_and_write(&documents, batch.positions, batch.end)?;
        Ok(Some(self.progress))
    }

    /// Encodes documents the caller read (each one record; empty ones are skipped and counted)
    /// and hands them to the writer. On a resume, the first records fed are dropped until the
    /// run is past the resumed shards (see [`Preparer::skip_records`]).
    pub fn feed(&mut self, texts: &[&str]) -> Result<Progress> {
        let dropped = self.skip_records(texts.len() as u64) as usize;
        let texts = &texts[dropped..];
        let mut position = self.progress.position;
        let mut documents = Vec::with_capacity(texts.len());
        let mut positions = Vec::with_capacity(texts.len());
        for &text in texts {
            position.records += 1;
            if text.is_empty() {
                position.empty += 1;
            } else {
                documents.push(text);
                positions.push(position);
            }
        }
        self.encode_and_write(&documents, positions, position)?;
        Ok(self.progress)
    }

    /// Drops up to `count` records that the resumed shards already hold; returns how many were
    /// dropped (0 once the run is past its resume point).
    pub fn skip_records(&mut self, count: u64) -> u64 {
        let dropped = count.min(self.skip);
        self.skip -= dropped;
        dropped
    }

    /// Records still to drop before new documents start (a resumed run).
    pub fn records_to_skip(&self) -> u64 {
        self.skip
    }

    fn encode_and_write(
        &mut self,
        documents: &[&str],
        positions: Vec<Position>,
        end: Position,
    ) -> Result<()> {
        let text_bytes: usize = documents.iter().map(|d| d.len()).sum();
        let (ids, offsets) = encode_documents(&self.tokenizer, documents, self.extra, self.threads);
        self.progress.text_bytes += text_bytes as u64;
        self.progress.documents += documents.len() as u64;
        self.progress.tokens += ids.len() as u64;
        self.progress.position = end;
        self.send(WriterMessage::Batch {
            ids,
            offsets,
            positions,
            end,
        })
    }

    fn send(&mut self, message: WriterMessage) -> Result<()> {
        let sent = match self.writer_input.as_ref() {
            Some(sender) => sender.send(message).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped: it failed, and its error says why.
        self.writer_input = None;
        match self.join_writer() {
            Err(error) => Err(error),
            Ok(_) => Err(Error::new(ErrorKind::Internal, "the writer thread stopped")),
        }
    }

    fn join_writer(&mut self) -> Result<Option<Totals>> {
        match self.writer.take() {
            Some(handle) => handle.join().unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Internal,
                    "internal error in ferrotok (a bug; please report it): the writer panicked",
                ))
            }),
            None => Ok(None),
        }
    }

    /// The counts so far.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Completes the run: the last shard and the manifest, marked complete.
    pub fn finish(mut self) -> Result<Totals> {
        let end = self.progress.position;
        self.send(WriterMessage::Finish(end))?;
        self.writer_input = None;
        self.join_writer()?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "the writer thread stopped"))
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        // Closing the channels stops both threads; the writer then removes its partial files,
        // which is waited for so that they are gone when this returns.
        self.batches = None;
        self.writer_input = None;
        let _ = self.join_writer();
        // The reader may be blocked reading a large file; it notices the closed channel at its
        // next batch and exits on its own.
        self.reader = None;
    }
}
