//! Encodes the mixed corpus (1 MB from each of en, code, multilingual, ja, cut into paragraphs) on
//! one thread and prints MB/s, on text the per-thread caches have not seen and on the same text
//! again: a plain process to run under `perf` or callgrind, without Python around it.
//! `FOLDERS=ja` takes one folder; `MB=5` takes up to 5 MB from each (longer, steadier runs).
//! `SCAN=o200k` (or `cl100k`, `gpt2`, `qwen2`) times the split pattern's scanner alone, without
//! the model: what the scanner's share of an encoding is. `SPECIALS=added` matches the file's added
//! tokens in the text as `encode` and the Python batch calls do (default: the text is all text).
//!
//!     cargo run --release --manifest-path benches/core/Cargo.toml --example encode_corpus -- o200k_base [runs]
//!     (a name with a `/` is a tokenizer.json path)

use std::path::PathBuf;
use std::time::Instant;

use ferrotok::pretokenize::scanners::KnownPattern;
use ferrotok::tokenizer::SpecialTokens;
use ferrotok::Tokenizer;

/// With `PERF_CTL=<fifo>` and `perf record --delay=-1 --control=fifo:<fifo>`, only the pass
/// over new text is recorded (loading and warming up are not).
fn perf_control(command: &str) {
    if let Some(path) = std::env::var_os("PERF_CTL") {
        std::fs::write(path, format!("{command}\n")).expect("PERF_CTL: perf's control fifo");
    }
}

/// The pass over new text, by name: `valgrind --tool=callgrind --collect-atstart=no
/// --toggle-collect='*new_text_pass*'` counts it alone.
#[inline(never)]
fn new_text_pass<R>(pass: impl FnOnce() -> R) -> R {
    pass()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "o200k_base".to_string());
    let runs: usize = args.next().map_or(5, |n| n.parse().expect("runs"));
    let data = std::env::var_os("FERROTOK_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let load = Instant::now();
    let tokenizer = if name.contains('/') {
        Tokenizer::from_file(&name).expect("tokenizer.json")
    } else {
        Tokenizer::from_builtin(&name).expect("built-in encoding")
    };
    let load = load.elapsed().as_secs_f64();
    let mut documents = Vec::new();
    let folders =
        std::env::var("FOLDERS").unwrap_or_else(|_| "en,code,multilingual,ja".to_string());
    let per_folder = std::env::var("MB").map_or(1_000_000, |mb| {
        (mb.parse::<f64>().expect("MB: a number of megabytes") * 1e6) as usize
    });
    for folder in folders.split(',') {
        let mut text = String::new();
        let mut files: Vec<_> = std::fs::read_dir(data.join("corpus").join(folder))
            .expect("corpus folder")
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            text.push_str(&std::fs::read_to_string(file).expect("utf-8 corpus file"));
            if text.len() > per_folder {
                break;
            }
        }
        let mut end = per_folder.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // As benches/compare.py cuts them: paragraphs, cut after a line once they reach 4 kB.
        let mut current = String::new();
        for line in text[..end].split_inclusive('\n') {
            current.push_str(line);
            if line.trim().is_empty() || current.len() >= 4096 {
                documents.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            documents.push(current);
        }
    }
    // Every other document warms the caches up; the rest are timed, first on their first
    // encoding (text the caches have not seen: what a corpus job sees), then repeated.
    let (warm, timed): (Vec<_>, Vec<_>) =
        documents.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let bytes: usize = timed.iter().map(|(_, d)| d.len()).sum();
    let mut ids = Vec::new();
    let scanner = std::env::var("SCAN")
        .ok()
        .filter(|name| !name.is_empty())
        .map(|name| match name.as_str() {
            "o200k" => KnownPattern::O200k,
            "cl100k" => KnownPattern::Cl100k,
            "gpt2" => KnownPattern::Gpt2,
            "qwen2" => KnownPattern::Qwen2,
            _ => panic!("SCAN: one of o200k, cl100k, gpt2, qwen2"),
        });
    let specials = match std::env::var("SPECIALS").as_deref() {
        Ok("added") => SpecialTokens::Added,
        Ok("") | Err(_) => SpecialTokens::Ignored,
        Ok(other) => panic!("SPECIALS: `added` or nothing, not {other:?}"),
    };
    let encode_all = |documents: &[(usize, &String)], ids: &mut Vec<u32>| {
        let start = Instant::now();
        let mut tokens = 0;
        for (_, document) in documents {
            ids.clear();
            match scanner {
                // Pieces are counted as tokens.
                Some(scanner) => scanner.for_each_match(document, |_, end| {
                    std::hint::black_box(end);
                    tokens += 1;
                }),
                None => {
                    tokenizer.encode_with(document, specials, ids);
                    tokens += ids.len();
                }
            }
        }
        (start.elapsed().as_secs_f64(), tokens)
    };
    encode_all(&warm, &mut ids);
    perf_control("enable");
    let (fresh, tokens) = new_text_pass(|| encode_all(&timed, &mut ids));
    perf_control("disable");
    let mut times: Vec<f64> = (0..runs).map(|_| encode_all(&timed, &mut ids).0).collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{name}: loaded in {:.0} ms; {:.1} MB in {} documents, {tokens} tokens; new text {:.1} MB/s; repeated: median {:.1} MB/s, best {:.1} MB/s",
        load * 1e3,
        bytes as f64 / 1e6,
        timed.len(),
        bytes as f64 / fresh / 1e6,
        bytes as f64 / median / 1e6,
        bytes as f64 / times[0] / 1e6
    );
    // Not dropped: freeing the vocabulary's strings takes a visible share of a profile's
    // samples, none of them part of what is measured.
    std::mem::forget(tokenizer);
}
