//! The `Digits` pre-tokenizer: numbers apart from the rest, one piece per digit or per run.
//!
//! A "digit" is any `char::is_numeric` character (general categories Nd, Nl, No), which is the
//! predicate `tokenizers` uses. Each digit is a one-character match; `individual_digits` keeps
//! every match apart (`Isolated`), otherwise runs of digits are glued together (`Contiguous`).

use std::ops::Range;

use super::split::{split_by_char, Marked, SplitBehavior};

/// The `Digits` pre-tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digits {
    /// One piece per digit (`true`) or one piece per run of digits (`false`).
    pub individual_digits: bool,
}

impl Digits {
    /// Cuts the piece `text[piece]`, appending the resulting ranges to `out`.
    pub(crate) fn split_piece(
        &self,
        text: &str,
        piece: Range<usize>,
        scratch: &mut Vec<Marked>,
        out: &mut Vec<Range<usize>>,
    ) {
        let behavior = if self.individual_digits {
            SplitBehavior::Isolated
        } else {
            SplitBehavior::Contiguous
        };
        split_by_char(text, piece, scratch, out, behavior, char::is_numeric);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::{Pieces, PreTokenizer};

    /// `(individual_digits, text, expected pieces)`. The expectations came from tokenizers
    /// 0.23.3: `Digits(individual_digits).pre_tokenize_str(text)`.
    #[rustfmt::skip]
    const DIGITS_CASES: &[(bool, &str, &[&str])] = &[
        (false, "", &[]),
        (false, "abc", &["abc"]),
        (false, "123", &["123"]),
        (false, "a1b22c333", &["a", "1", "b", "22", "c", "333"]),
        (false, "١٢٣ and ½ⅧⅨ", &["١٢٣", " and ", "½ⅧⅨ"]),
        (false, "1 2", &["1", " ", "2"]),
        (true, "", &[]),
        (true, "abc", &["abc"]),
        (true, "123", &["1", "2", "3"]),
        (true, "a1b22c333", &["a", "1", "b", "2", "2", "c", "3", "3", "3"]),
        (true, "١٢٣ and ½ⅧⅨ", &["١", "٢", "٣", " and ", "½", "Ⅷ", "Ⅸ"]),
        (true, "1 2", &["1", " ", "2"]),
    ];

    #[test]
    fn digits_match_tokenizers() {
        for (individual_digits, text, expected) in DIGITS_CASES {
            let digits = PreTokenizer::Digits(Digits {
                individual_digits: *individual_digits,
            });
            let mut pieces = Pieces::new();
            pieces.reset(text);
            digits.pre_tokenize(&mut pieces);
            let got: Vec<&str> = pieces.iter().collect();
            assert_eq!(
                got, *expected,
                "individual_digits={individual_digits} on {text:?}"
            );
        }
    }
}
