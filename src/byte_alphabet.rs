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
    let mut out = Vec::with_capacity(token.len());
    decode_token_into(token, &mut out).then_some(out)
}

/// Like [`decode_token`], into a reused buffer (cleared first); false when a character is not
/// in the alphabet.
pub fn decode_token_into(token: &str, out: &mut Vec<u8>) -> bool {
    out.clear();
    out.reserve(token.len());
    // Every character of the alphabet is below U+0144: one UTF-8 byte or two (lead 0xC2 to
    // 0xC5), looked up in a table without decoding characters in general (loading reads 1.1M
    // tokens and merge parts for o200k; this halved the time spent here).
    let bytes = token.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes[at];
        let (code, len) = match b {
            0x00..=0x7F => (u32::from(b), 1),
            0xC2..=0xC5 if at + 1 < bytes.len() => (
                (u32::from(b & 0x1F) << 6) | u32::from(bytes[at + 1] & 0x3F),
                2,
            ),
            _ => return false,
        };
        match BYTE_OF_CODE.get(code as usize) {
            Some(&byte) if byte >= 0 => out.push(byte as u8),
            _ => return false,
        }
        at += len;
    }
    true
}

/// For each code point below U+0144: the byte it stands for, or -1.
const BYTE_OF_CODE: [i16; 256 + 68] = {
    let mut table = [-1i16; 256 + 68];
    let mut byte = 0;
    while byte < 256 {
        if stands_for_itself(byte as u8) {
            table[byte] = byte as i16;
        }
        byte += 1;
    }
    let mut n = 0;
    while n < 68 {
        table[256 + n] = SHIFTED[n] as i16;
        n += 1;
    }
    table
};

/// Writes bytes as a byte-level token string.
///
/// Through a table of each byte's character already in UTF-8, not a `char` at a time: a load
/// writes every vocabulary entry this way (callgrind, o200k: 43M instructions for collecting
/// `char`s into a `String`).
pub fn encode_bytes(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        let (utf8, len) = UTF8_OF_BYTE[usize::from(byte)];
        out.push(utf8[0]);
        if len == 2 {
            out.push(utf8[1]);
        }
    }
    // SAFETY: each table entry is the UTF-8 of one `char` (`BYTE_TO_CHAR`'s, all below U+0800,
    // written as one or two bytes; `round_trip_all_bytes` checks them).
    unsafe { String::from_utf8_unchecked(out) }
}

/// Each byte's character ([`BYTE_TO_CHAR`]) in UTF-8: its bytes and their number.
const UTF8_OF_BYTE: [([u8; 2], u8); 256] = {
    let mut table = [([0u8; 2], 0u8); 256];
    let mut byte = 0;
    while byte < 256 {
        let code = BYTE_TO_CHAR[byte] as u32;
        table[byte] = if code < 0x80 {
            ([code as u8, 0], 1)
        } else {
            ([0xC0 | (code >> 6) as u8, 0x80 | (code & 0x3F) as u8], 2)
        };
        byte += 1;
    }
    table
};

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
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(decode_token(&encode_bytes(&all)), Some(all));
        for byte in 0..=255u8 {
            assert_eq!(encode_bytes(&[byte]), byte_to_char(byte).to_string());
        }
    }

    #[test]
    fn tokens_decode_as_their_characters_do() {
        // The table lookup agrees with `char_to_byte` on every character up to U+0800.
        for code in 0..0x800u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let token = format!("a{c}b");
            let expected = char_to_byte(c).map(|byte| vec![b'a', byte, b'b']);
            assert_eq!(decode_token(&token), expected, "U+{code:04X}");
        }
        assert_eq!(decode_token("中"), None);
        assert_eq!(decode_token(""), Some(Vec::new()));
    }
}
