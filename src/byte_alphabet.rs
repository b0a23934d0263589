//! GPT-2's byte-to-character alphabet.
//!
//! Byte-level vocabularies (GPT-2, cl100k, o200k, Llama 3, Qwen 2) write each byte as one printable
//! character: bytes that are printable Latin-1 stand for themselves, the other 68 are shifted to
//! U+0100 and up in byte order (space becomes `Ġ`, newline `Ċ`). ferrotok undoes this once when a
//! vocabulary is loaded and applies it only to show tokens as strings.

/// The character that stands for `byte` in byte-level vocabularies.
pub fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[byte as usize]
}

/// The byte that `c` stands for, or `None` when `c` is not in the alphabet.
pub fn char_to_byte(c: char) -> Option<u8> {
    let code = c as u32;
    if code < 256 && stands_for_itself(code as u8) {
        return Some(code as u8);
    }
    if (256..256 + 68).contains(&code) {
        return Some(SHIFTED[(code - 256) as usize]);
    }
    None
}

/// Maps a byte-level token string back to bytes; `None` if a character is outside the alphabet.
pub fn decode_token(token: &str) -> Option<Vec<u8>> {
    token.chars().map(char_to_byte).collect()
}

/// Writes bytes as a byte-level token string.
pub fn encode_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_to_char(b)).collect()
}

const fn stands_for_itself(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The bytes that do not stand for themselves, in byte order: the n-th maps to U+0100 + n.
const SHIFTED: [u8; 68] = {
    let mut table = [0u8; 68];
    let mut n = 0;
    let mut byte = 0;
    while byte < 256 {
        if !stands_for_itself(byte as u8) {
            table[n] = byte as u8;
            n += 1;
        }
        byte += 1;
    }
    table
};

const BYTE_TO_CHAR: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut n = 0;
    let mut byte = 0;
    while byte < 256 {
        table[byte] = if stands_for_itself(byte as u8) {
            match char::from_u32(byte as u32) {
                Some(c) => c,
                None => '\0',
            }
        } else {
            let c = match char::from_u32(256 + n) {
                Some(c) => c,
                None => '\0',
            };
            n += 1;
            c
        };
        byte += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_characters() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'a'), 'a');
        assert_eq!(byte_to_char(0xAD), 'Ń');
        assert_eq!(char_to_byte('Ġ'), Some(b' '));
        assert_eq!(char_to_byte('中'), None);
    }

    #[test]
    fn round_trip_all_bytes() {
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b));
        }
    }
}
