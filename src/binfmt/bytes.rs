//! Magic and mask byte strings, and the `\xNN` escaping binfmt_misc and NixOS use for them.

use std::fmt;

/// A byte string as written in a register line's magic or mask field.
///
/// Decoding follows the kernel's `string_unescape(..., UNESCAPE_HEX)` (lib/string_helpers.c):
/// `\x` followed by one or two hex digits is one byte; a backslash followed by anything else
/// stands for itself AND takes that next character with it unread (so `\\x41` is the five
/// bytes `\\x41`, not `\` and `A`); a backslash at the end stands for itself. Encoding is
/// NixOS's style: ASCII letters and digits literal, every other byte as a lowercase `\xNN`, so
/// `format(parse(s)) == s` for every line NixOS writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// Decode an escaped field.
    pub fn unescape(text: &str) -> Bytes {
        let src = text.as_bytes();
        let mut out = Vec::with_capacity(src.len());
        let mut i = 0;
        while i < src.len() {
            if src[i] == b'\\' && i + 1 < src.len() {
                if src[i + 1] == b'x' {
                    if let Some(hi) = src.get(i + 2).and_then(|c| hex_value(*c)) {
                        if let Some(lo) = src.get(i + 3).and_then(|c| hex_value(*c)) {
                            out.push(hi << 4 | lo);
                            i += 4;
                        } else {
                            out.push(hi);
                            i += 3;
                        }
                        continue;
                    }
                }
                // Not an escape: the kernel copies the backslash and the character after it.
                out.extend_from_slice(&src[i..i + 2]);
                i += 2;
                continue;
            }
            out.push(src[i]);
            i += 1;
        }
        Bytes(out)
    }

    /// Check an escaped field of a register line as the kernel's `scanarg` (fs/binfmt_misc.c)
    /// does before decoding: every `\x` must be followed by two hex digits, or the kernel
    /// refuses the line. Returns the offending escape.
    pub fn check_escapes(text: &str) -> Result<(), String> {
        let src = text.as_bytes();
        let mut i = 0;
        while i < src.len() {
            if src[i] == b'\\' && src.get(i + 1) == Some(&b'x') {
                let digits = src.get(i + 2..i + 4).unwrap_or(&src[i + 2..]);
                if digits.len() != 2 || !digits.iter().all(u8::is_ascii_hexdigit) {
                    let end = (i + 4).min(src.len());
                    return Err(String::from_utf8_lossy(&src[i..end]).into_owned());
                }
                i += 4;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Decode the plain hex the kernel prints in an entry file (`magic 7f454c46...`).
    pub fn from_hex(text: &str) -> Option<Bytes> {
        let src = text.as_bytes();
        if src.len() % 2 != 0 {
            return None;
        }
        src.chunks(2)
            .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
            .collect::<Option<Vec<u8>>>()
            .map(Bytes)
    }

    /// Plain lowercase hex, as the kernel prints it.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The escaped form, NixOS style.
impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_alphanumeric() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_table() {
        let cases: &[(&str, &[u8])] = &[
            (r"\x7fELF", b"\x7fELF"),
            (r"\x00asm", b"\x00asm"),
            ("MZ", b"MZ"),
            (r"\x7", b"\x07"),
            (r"\x7g", b"\x07g"),
            (r"\xAB", b"\xab"),
            (r"\x", b"\\x"),
            (r"a\b", b"a\\b"),
            (r"\x123", b"\x123"),
            ("", b""),
            // The kernel's string_unescape copies a backslash and the character after it.
            (r"\\x41", b"\\\\x41"),
            (r"\\\x41", b"\\\\A"),
            ("a\\", b"a\\"),
        ];
        for (text, want) in cases {
            assert_eq!(Bytes::unescape(text).0, *want, "unescape({text:?})");
        }
    }

    #[test]
    fn display_is_nixos_style_and_round_trips() {
        for text in [
            r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00",
            r"\x00asm",
            "MZ",
            r"\xff\xfe\x20",
        ] {
            assert_eq!(Bytes::unescape(text).to_string(), text);
        }
        assert_eq!(Bytes(b"(:\\".to_vec()).to_string(), r"\x28\x3a\x5c");
    }

    #[test]
    fn escapes_are_checked_like_the_kernels_scanarg() {
        for ok in [r"\x7fELF", "MZ", r"a\b", r"\\", r"\\\x41", r"\"] {
            assert_eq!(Bytes::check_escapes(ok), Ok(()), "{ok}");
        }
        for (bad, escape) in [
            (r"\x", r"\x"),
            (r"\x7", r"\x7"),
            (r"\x7g", r"\x7g"),
            (r"ab\xg1", r"\xg1"),
            (r"\\xZZ", r"\xZZ"),
        ] {
            assert_eq!(Bytes::check_escapes(bad), Err(escape.to_owned()), "{bad}");
        }
    }

    #[test]
    fn hex_round_trip() {
        let b = Bytes(vec![0x7f, 0x45, 0x00, 0xff]);
        assert_eq!(b.to_hex(), "7f4500ff");
        assert_eq!(Bytes::from_hex("7f4500ff"), Some(b));
        assert_eq!(Bytes::from_hex("7f4"), None);
        assert_eq!(Bytes::from_hex("zz"), None);
    }
}
