//! Throughput of the core per component and input size (10 B to 10 MB), in bytes of UTF-8 input
//! per second (`Throughput::Bytes`), on one thread.
//!
//! - `encode/<tokenizer>/<size>`: the whole pipeline, ids only (`Tokenizer::encode_with`, special
//!   tokens as text), for a byte-level BPE (o200k, cl100k built in; Llama 3.1), SentencePiece BPE
//!   (Mistral), WordPiece (BERT) and Unigram (T5).
//! - `pretokenize/<pattern>/<size>`: the hand-written o200k scanner against the regex engine
//!   running the same pattern (the fallback every unknown pattern takes).
//! - `normalize/<normalizer>/<size>`: NFC, the BERT normalizer and T5's precompiled charsmap.
//!
//! The input is a slice of the shared corpus mixing English, code, the UDHR and Japanese, cut at
//! a character boundary. Per-thread caches warm up during criterion's warm-up, so the figures are
//! steady-state ones; `benches/compare.py` measures whole batches against other libraries.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrotok::normalize::Normalizer;
use ferrotok::pretokenize::scanners::{Engine, KnownPattern};
use ferrotok::pretokenize::Regex;
use ferrotok::tokenizer::SpecialTokens;
use ferrotok::Tokenizer;

const SIZES: [usize; 4] = [10, 1_000, 100_000, 10_000_000];

fn data_dir() -> PathBuf {
    std::env::var_os("FERROTOK_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// About `size` bytes of mixed corpus text (repeated to reach 10 MB), cut at a char boundary.
fn sample(size: usize) -> String {
    let corpus = data_dir().join("corpus");
    let mut mixed = String::new();
    for file in [
        "en/moby_dick_pg2701.txt",
        "code/python_stdlib_3.11.7.py.txt",
        "multilingual/udhr_532_translations.txt",
        "ja/wagahaiwa_nekodearu.txt",
    ] {
        let text = std::fs::read_to_string(corpus.join(file)).expect("the shared corpus");
        mixed.push_str(&text[..floor_char_boundary(&text, 256 * 1024)]);
    }
    let mut out = String::with_capacity(size + mixed.len());
    while out.len() < size {
        out.push_str(&mixed);
    }
    out.truncate(floor_char_boundary(&out, size));
    out
}

/// The largest char boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut end = at.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

fn label(size: usize) -> String {
    match size {
        s if s >= 1_000_000 => format!("{}MB", s / 1_000_000),
        s if s >= 1_000 => format!("{}kB", s / 1_000),
        s => format!("{s}B"),
    }
}

fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    size: usize,
) {
    group.throughput(Throughput::Bytes(size as u64));
    if size >= 1_000_000 {
        group.sample_size(10);
    }
}

fn encode(c: &mut Criterion) {
    let files = data_dir().join("tokenizers");
    let tokenizers: Vec<(&str, Tokenizer)> = vec![
        ("o200k", Tokenizer::from_builtin("o200k_base").unwrap()),
        ("cl100k", Tokenizer::from_builtin("cl100k_base").unwrap()),
        (
            "llama-3.1",
            Tokenizer::from_file(files.join("llama-3.1/tokenizer.json")).unwrap(),
        ),
        (
            "mistral",
            Tokenizer::from_file(files.join("mistral-7b-v0.1/tokenizer.json")).unwrap(),
        ),
        (
            "bert",
            Tokenizer::from_file(files.join("bert-base-uncased/tokenizer.json")).unwrap(),
        ),
        (
            "t5",
            Tokenizer::from_file(files.join("t5-legal-small-fr-en/tokenizer.json")).unwrap(),
        ),
    ];
    let mut group = c.benchmark_group("encode");
    for size in SIZES {
        let text = sample(size);
        configure(&mut group, size);
        for (name, tokenizer) in &tokenizers {
            let mut out = Vec::new();
            group.bench_with_input(BenchmarkId::new(*name, label(size)), &text, |b, text| {
                b.iter(|| {
                    out.clear();
                    tokenizer.encode_with(text, SpecialTokens::Ignored, &mut out);
                    out.len()
                })
            });
        }
    }
    group.finish();
}

fn pretokenize(c: &mut Criterion) {
    let pattern = ferrotok::load::builtin::builtin_encoding("o200k_base")
        .unwrap()
        .pattern
        .to_string();
    let scanner = KnownPattern::recognize(&pattern, Engine::Fancy).expect("o200k has a scanner");
    let engine = Regex::fancy_engine(&pattern).unwrap();
    let mut group = c.benchmark_group("pretokenize");
    for size in SIZES {
        let text = sample(size);
        configure(&mut group, size);
        let mut ranges = Vec::new();
        group.bench_with_input(
            BenchmarkId::new("o200k-scanner", label(size)),
            &text,
            |b, text| {
                b.iter(|| {
                    ranges.clear();
                    scanner.find_ranges(text, &mut ranges);
                    ranges.len()
                })
            },
        );
        if size <= 100_000 {
            group.bench_with_input(
                BenchmarkId::new("o200k-regex", label(size)),
                &text,
                |b, text| {
                    b.iter(|| {
                        ranges.clear();
                        engine.find_ranges(text, &mut ranges);
                        ranges.len()
                    })
                },
            );
        }
    }
    group.finish();
}

fn normalize(c: &mut Criterion) {
    let t5: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("tokenizers/t5-legal-small-fr-en/tokenizer.json"))
            .unwrap(),
    )
    .unwrap();
    let normalizers = [
        (
            "nfc",
            Normalizer::from_json(&serde_json::json!({"type": "NFC"}), "n").unwrap(),
        ),
        (
            "bert",
            Normalizer::from_json(
                &serde_json::json!({"type": "BertNormalizer", "clean_text": true,
                    "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}),
                "n",
            )
            .unwrap(),
        ),
        (
            "t5-precompiled",
            Normalizer::from_json(&t5["normalizer"], "normalizer").unwrap(),
        ),
    ];
    let mut group = c.benchmark_group("normalize");
    for size in SIZES {
        let text = sample(size);
        configure(&mut group, size);
        for (name, normalizer) in &normalizers {
            let mut out = String::new();
            group.bench_with_input(BenchmarkId::new(*name, label(size)), &text, |b, text| {
                b.iter(|| {
                    out.clear();
                    normalizer.normalize(text, &mut out);
                    out.len()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, encode, pretokenize, normalize);
criterion_main!(benches);
