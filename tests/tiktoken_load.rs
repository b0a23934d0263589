//! The `.tiktoken` reader and the built-in encodings, against the real rank files.
//!
//! The conformance tests read `../shared/data/tiktoken/*.tiktoken` (or `$FERROTOK_DATA/tiktoken`);
//! without that folder they print why and pass, so that a bare clone still builds; CI has it.

use std::path::PathBuf;

use ferrotok::load::builtin::{builtin_encoding, BuiltinEncoding, BUILTIN_ENCODINGS};
use ferrotok::load::tiktoken::{parse_ranks, read_ranks_file};
use ferrotok::ErrorKind;

/// The shared data folder, or `None` (with a message) when it is absent.
fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FERROTOK_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    };
    if dir.join("tiktoken").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: no rank files at {} (set FERROTOK_DATA)",
            dir.join("tiktoken").display()
        );
        None
    }
}

/// The `.tiktoken` file each built-in encoding's ranks come from.
fn source_file(encoding: &str) -> &'static str {
    match encoding {
        "gpt2" | "r50k_base" => "r50k_base",
        "p50k_base" | "p50k_edit" => "p50k_base",
        "cl100k_base" => "cl100k_base",
        "o200k_base" | "o200k_harmony" => "o200k_base",
        other => panic!("no source file for {other}"),
    }
}

#[test]
fn builtin_ranks_equal_the_tiktoken_files() {
    let Some(data) = data_dir() else { return };
    // (file, entries, largest rank): p50k_base skips rank 50256.
    let files = [
        ("r50k_base", 50_256, 50_255),
        ("p50k_base", 50_280, 50_280),
        ("cl100k_base", 100_256, 100_255),
        ("o200k_base", 199_998, 199_997),
    ];
    for (file, count, max_rank) in files {
        let path = data.join("tiktoken").join(format!("{file}.tiktoken"));
        let expected = read_ranks_file(&path).unwrap().to_pairs();
        assert_eq!(expected.len(), count, "{file}");
        let ranks = expected.iter().map(|&(_, rank)| rank);
        assert_eq!(ranks.max(), Some(max_rank), "{file}");
        for &name in BUILTIN_ENCODINGS
            .iter()
            .filter(|&&name| source_file(name) == file)
        {
            let encoding = builtin_encoding(name).unwrap();
            assert_eq!(encoding.name, name);
            assert_eq!(encoding.ranks.len(), expected.len(), "{name}: entry count");
            for (index, (got, want)) in encoding.ranks.iter().zip(&expected).enumerate() {
                assert_eq!(got, want, "{name}: entry {index}");
            }
        }
    }
}

#[test]
fn p50k_base_skips_the_endoftext_rank() {
    // p50k_base has no rank 50256: that is the id of its `<|endoftext|>` special token.
    let p50k = builtin_encoding("p50k_base").unwrap();
    assert_eq!(p50k.ranks[50_255].1, 50_255);
    assert_eq!(p50k.ranks[50_256], (b"  ".to_vec(), 50_257));
    assert_eq!(p50k.ranks.len(), 50_280);
}

/// tiktoken's gpt2 encoding builds its ranks from GPT-2's `encoder.json`; they must be r50k's.
#[test]
fn gpt2_ranks_equal_the_original_encoder_json() {
    let Some(data) = data_dir() else { return };
    let path = data.join("gpt2_original/encoder.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: no {}", path.display());
        return;
    };
    let encoder: std::collections::HashMap<String, u32> = serde_json::from_str(&text).unwrap();
    // GPT-2's byte ↔ printable character map (tiktoken's data_gym_to_mergeable_bpe_ranks).
    let mut char_to_byte = std::collections::HashMap::new();
    let mut shifted = 0u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        let character = if printable {
            char::from(byte)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap()
        };
        char_to_byte.insert(character, byte);
    }
    let mut expected: Vec<(Vec<u8>, u32)> = encoder
        .iter()
        .filter(|(token, _)| !matches!(token.as_str(), "<|endoftext|>" | "<|startoftext|>"))
        .map(|(token, &rank)| (token.chars().map(|c| char_to_byte[&c]).collect(), rank))
        .collect();
    expected.sort_by_key(|&(_, rank)| rank);
    assert_eq!(builtin_encoding("gpt2").unwrap().ranks, expected);
}

/// What tiktoken 0.14.0's `tiktoken_ext/openai_public.py` gives for one encoding.
struct Expected {
    name: &'static str,
    special_count: usize,
    explicit_n_vocab: Option<usize>,
    max_token_value: u32,
    first_specials: &'static [(&'static str, u32)],
}

#[test]
fn builtin_specials_and_vocab_sizes() {
    const ENDOFTEXT_50K: &[(&str, u32)] = &[("<|endoftext|>", 50_256)];
    let cases = [
        Expected {
            name: "gpt2",
            special_count: 1,
            explicit_n_vocab: Some(50_257),
            max_token_value: 50_256,
            first_specials: ENDOFTEXT_50K,
        },
        Expected {
            name: "r50k_base",
            special_count: 1,
            explicit_n_vocab: Some(50_257),
            max_token_value: 50_256,
            first_specials: ENDOFTEXT_50K,
        },
        Expected {
            name: "p50k_base",
            special_count: 1,
            explicit_n_vocab: Some(50_281),
            max_token_value: 50_280,
            first_specials: ENDOFTEXT_50K,
        },
        Expected {
            name: "p50k_edit",
            special_count: 4,
            explicit_n_vocab: None,
            max_token_value: 50_283,
            first_specials: &[
                ("<|endoftext|>", 50_256),
                ("<|fim_prefix|>", 50_281),
                ("<|fim_middle|>", 50_282),
                ("<|fim_suffix|>", 50_283),
            ],
        },
        Expected {
            name: "cl100k_base",
            special_count: 5,
            explicit_n_vocab: None,
            max_token_value: 100_276,
            first_specials: &[
                ("<|endoftext|>", 100_257),
                ("<|fim_prefix|>", 100_258),
                ("<|fim_middle|>", 100_259),
                ("<|fim_suffix|>", 100_260),
                ("<|endofprompt|>", 100_276),
            ],
        },
        Expected {
            name: "o200k_base",
            special_count: 2,
            explicit_n_vocab: None,
            max_token_value: 200_018,
            first_specials: &[("<|endoftext|>", 199_999), ("<|endofprompt|>", 200_018)],
        },
        Expected {
            name: "o200k_harmony",
            special_count: 1091,
            explicit_n_vocab: None,
            max_token_value: 201_087,
            first_specials: &[
                ("<|endoftext|>", 199_999),
                ("<|endofprompt|>", 200_018),
                ("<|startoftext|>", 199_998),
            ],
        },
    ];
    assert_eq!(cases.len(), BUILTIN_ENCODINGS.len());
    for expected in cases {
        let name = expected.name;
        let encoding = builtin_encoding(name).unwrap();
        assert_eq!(
            encoding.special_tokens.len(),
            expected.special_count,
            "{name}"
        );
        let first = &encoding.special_tokens[..expected.first_specials.len()];
        assert_eq!(first, expected.first_specials, "{name}");
        assert_eq!(
            encoding.explicit_n_vocab, expected.explicit_n_vocab,
            "{name}"
        );
        assert_eq!(
            encoding.max_token_value(),
            expected.max_token_value,
            "{name}"
        );
        check_tiktoken_asserts(&encoding);
    }
}

/// The checks `tiktoken.Encoding.__init__` and `CoreBPE::new` make.
fn check_tiktoken_asserts(encoding: &BuiltinEncoding) {
    if let Some(n_vocab) = encoding.explicit_n_vocab {
        assert_eq!(
            encoding.ranks.len() + encoding.special_tokens.len(),
            n_vocab
        );
        assert_eq!(encoding.max_token_value() as usize, n_vocab - 1);
    }
    let mut ranks: Vec<u32> = encoding.ranks.iter().map(|&(_, rank)| rank).collect();
    ranks.sort_unstable();
    ranks.dedup();
    assert_eq!(
        ranks.len(),
        encoding.ranks.len(),
        "{}: duplicate ranks",
        encoding.name
    );
}

#[test]
fn builtin_patterns_are_tiktokens() {
    let r50k = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";
    for name in ["gpt2", "r50k_base", "p50k_base", "p50k_edit"] {
        assert_eq!(builtin_encoding(name).unwrap().pattern, r50k, "{name}");
    }
    assert_eq!(
        builtin_encoding("cl100k_base").unwrap().pattern,
        r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"
    );
    let o200k = [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
    .join("|");
    for name in ["o200k_base", "o200k_harmony"] {
        assert_eq!(builtin_encoding(name).unwrap().pattern, o200k, "{name}");
    }
}

#[test]
fn unknown_builtin_name_lists_the_known_ones() {
    let error = builtin_encoding("o300k_base").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.message().contains("\"o300k_base\""), "{error}");
    for name in BUILTIN_ENCODINGS {
        assert!(error.message().contains(name), "{error}");
    }
}

/// Parses `data` as `bad.tiktoken` and returns the error message, checking the error kind.
fn parse_error(data: &[u8]) -> String {
    let error = parse_ranks(data, "bad.tiktoken").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidFile, "{error}");
    error.message().to_owned()
}

#[test]
fn error_bad_base64() {
    assert_eq!(
        parse_error(b"IQ== 0\nIg== 1\nIw 2\n"),
        "bad.tiktoken:3: invalid base64 token `Iw`: Incorrect padding"
    );
    assert_eq!(
        parse_error(b"IQ== 0\nI 1\n"),
        "bad.tiktoken:2: invalid base64 token `I`: Invalid base64-encoded string: \
         number of data characters (1) cannot be 1 more than a multiple of 4"
    );
}

#[test]
fn error_missing_rank() {
    assert_eq!(
        parse_error(b"IQ== 0\n\nIg==\n"),
        "bad.tiktoken:3: missing rank: expected `<base64 token> <rank>`, found one field"
    );
}

#[test]
fn error_non_integer_rank() {
    assert_eq!(
        parse_error(b"IQ== 0\nIg== 1.0\n"),
        "bad.tiktoken:2: rank `1.0` is not an integer"
    );
    assert_eq!(
        parse_error(b"IQ== -1\n"),
        "bad.tiktoken:1: rank `-1` is out of range: ranks are 0..=4294967295"
    );
}

#[test]
fn error_duplicate_token() {
    // `IQ==` and `IR==` both decode to b"!" (Python ignores the unused low bits too).
    assert_eq!(
        parse_error(b"IQ== 0\nIg== 1\nIR== 2\n"),
        "bad.tiktoken:3: duplicate token b\"!\" (`IR==`): already on line 1"
    );
}

#[test]
fn error_duplicate_rank() {
    assert_eq!(
        parse_error(b"IQ== 0\nIg== 1\nIw== 1\n"),
        "bad.tiktoken:3: duplicate rank 1: already used on line 2"
    );
}

#[test]
fn error_unreadable_file_names_the_path() {
    let path = std::path::Path::new("/nonexistent/ferrotok/missing.tiktoken");
    let error = read_ranks_file(path).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert!(
        error
            .message()
            .starts_with("/nonexistent/ferrotok/missing.tiktoken: "),
        "{error}"
    );
}

#[test]
fn read_errors_name_the_file() {
    let path = std::env::temp_dir().join(format!("ferrotok-bad-{}.tiktoken", std::process::id()));
    std::fs::write(&path, b"IQ== 0\nIg== x\n").unwrap();
    let error = read_ranks_file(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        error.message(),
        format!("{}:2: rank `x` is not an integer", path.display())
    );
}

#[test]
fn accepted_like_tiktoken() {
    // Blank lines, CRLF and lone CR line ends, extra whitespace, gaps, `_` and `+` in ranks,
    // and an empty token (b64decode("!!!!") == b"") are all read by tiktoken.
    let data = b"\r\nIQ== 0\r\n\r\n\tIg==   1_0  \rIw== +3\n!!!! 4\n";
    let ranks = parse_ranks(data, "ok.tiktoken").unwrap();
    assert_eq!(
        ranks.to_pairs(),
        vec![
            (b"!".to_vec(), 0),
            (b"#".to_vec(), 3),
            (Vec::new(), 4),
            (b"\"".to_vec(), 10),
        ]
    );
}

#[test]
fn error_no_entries() {
    // tiktoken reads these as `{}` and then cannot build an encoding (`max()` of no ranks).
    for data in [&b""[..], b"\n", b"\r\n\r\n"] {
        assert_eq!(
            parse_error(data),
            "bad.tiktoken: no `<base64 token> <rank>` lines"
        );
    }
}
