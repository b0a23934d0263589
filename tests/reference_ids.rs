//! The core against the reference outputs in `../shared/data/conformance/reference_outputs`:
//! ids produced by Hugging Face `tokenizers` 0.23.3 and `tiktoken` 0.14.0 for every hand-written
//! edge case (whitespace runs, digits, contractions, scripts, emoji, control characters,
//! special-token look-alikes, pathological repeats). Runs without Python.

use std::path::PathBuf;

use ferrotok::Tokenizer;
use serde_json::Value;

/// The unit tests' helpers, for their `data_dir` (an integration test cannot see the library's
/// `#[cfg(test)]` module; the generator is not used here).
#[allow(dead_code)]
#[path = "../src/testing.rs"]
mod testing;

use testing::data_dir;

/// The tokenizer.json files whose whole pipeline ferrotok implements so far: all of them.
const HF_TOKENIZERS: &[&str] = &[
    "gpt2",
    "gpt-4-cl100k",
    "gpt-4o-o200k",
    "llama-3.1",
    "qwen2.5",
    "clip-vit-base-patch32",
    "mistral-7b-v0.1",
    "llama-2-7b-reconstructed",
    "bert-base-uncased",
    "albert-base-v2",
    "t5-legal-small-fr-en",
];

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect()
}

struct Fixture {
    cases: serde_json::Map<String, Value>,
    reference: Value,
}

fn fixture() -> Fixture {
    let dir = data_dir();
    let cases = read_json(dir.join("corpus/unicode/edge_cases.json"))["cases"]
        .as_object()
        .unwrap()
        .clone();
    let reference =
        read_json(dir.join("conformance/reference_outputs/edge_cases_reference_ids.json"));
    Fixture { cases, reference }
}

/// Compares one list of expected ids per case; returns a description of each mismatch.
fn compare(
    label: &str,
    cases: &serde_json::Map<String, Value>,
    expected: &Value,
    mut actual: impl FnMut(&str) -> Vec<u32>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, want) in expected.as_object().unwrap() {
        let text = cases[name].as_str().unwrap();
        let got = actual(text);
        if got != ids(want) {
            failures.push(format!(
                "{label} case {name:?} ({text:?}): expected {want}, got {got:?}"
            ));
        }
    }
    failures
}

#[test]
fn hugging_face_edge_cases() {
    let Fixture { cases, reference } = fixture();
    let dir = data_dir();
    let mut failures = Vec::new();
    for name in HF_TOKENIZERS {
        let expected = &reference["hf"][*name];
        let tok = Tokenizer::from_file(dir.join(expected["file"].as_str().unwrap())).unwrap();
        failures.extend(compare(name, &cases, &expected["ids"], |t| {
            tok.encode(t, false)
        }));
        failures.extend(compare(name, &cases, &expected["ids_with_special"], |t| {
            tok.encode(t, true)
        }));
        for (case, want) in expected["decoded"].as_object().unwrap() {
            let ids = tok.encode(cases[case].as_str().unwrap(), false);
            let got = tok.decode(&ids, false).unwrap();
            if got != want.as_str().unwrap() {
                failures.push(format!(
                    "{name} decode of case {case:?}: expected {want}, got {got:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn tiktoken_edge_cases() {
    let Fixture { cases, reference } = fixture();
    let mut failures = Vec::new();
    for (name, expected) in reference["tiktoken"].as_object().unwrap() {
        let tok = Tokenizer::from_builtin(name).unwrap();
        failures.extend(compare(name, &cases, &expected["ids"], |t| {
            tok.encode_ordinary(t)
        }));
        let all = tok.special_matcher(None).unwrap();
        failures.extend(compare(
            name,
            &cases,
            &expected["ids_allowed_special"],
            |t| {
                let mut out = Vec::new();
                tok.encode_with(t, ferrotok::tokenizer::SpecialTokens::Only(&all), &mut out);
                out
            },
        ));
        for text in cases.values() {
            let text = text.as_str().unwrap();
            let ids = tok.encode_ordinary(text);
            assert_eq!(
                tok.decode(&ids, false).unwrap(),
                text,
                "{name}: round trip of {text:?}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
