//! The kernel's entry files (`/proc/sys/fs/binfmt_misc/<name>`): what a registered entry says.

use super::bytes::Bytes;
use super::line::{EntryName, Flags, Matcher, Registration};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("line {0}: expected \"enabled\" or \"disabled\", found {1:?}")]
    State(usize, String),
    #[error("line {0}: cannot read {1:?}")]
    Line(usize, String),
    #[error("no interpreter line")]
    NoInterpreter,
    #[error("neither magic nor extension given")]
    NoMatcher,
    #[error("mask is {mask} bytes but magic is {magic} bytes")]
    MaskLength { magic: usize, mask: usize },
}

/// One entry as the kernel prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: EntryName,
    pub enabled: bool,
    pub interpreter: String,
    pub flags: Flags,
    /// Flag letters this version does not know (printed by newer kernels).
    pub unknown_flags: String,
    pub matcher: Matcher,
}

impl Entry {
    /// True when `self` and `other` handle a program alike: the same interpreter, started
    /// with the same flags. A program one of them takes is then run as the other would run
    /// it, so which of the two the kernel picks does not matter (NixOS's armv6l-linux and
    /// armv7l-linux: identical magics, one qemu-arm; issue 13, item 1).
    pub fn runs_like(&self, other: &Entry) -> bool {
        self.interpreter == other.interpreter
            && self.flags == other.flags
            && self.unknown_flags == other.unknown_flags
    }

    /// Parse the text of an entry file. Lines this version does not know are ignored, so a
    /// newer kernel's extra lines do not break reading.
    pub fn parse(name: EntryName, text: &str) -> Result<Entry, EntryError> {
        // Split on '\n' only: `str::lines` would also eat a '\r' that ends the interpreter
        // path, and the kernel prints the path byte for byte (found by fuzzing).
        let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        let enabled = match lines.next() {
            Some((_, "enabled")) => true,
            Some((_, "disabled")) => false,
            Some((n, other)) => return Err(EntryError::State(n, other.to_owned())),
            None => return Err(EntryError::State(1, String::new())),
        };
        let (mut interpreter, mut flags, mut unknown_flags) =
            (None, Flags::default(), String::new());
        let (mut offset, mut magic, mut mask, mut extension) = (0, None, None, None);
        for (n, line) in lines {
            let bad = || EntryError::Line(n, line.to_owned());
            if let Some(v) = line.strip_prefix("interpreter ") {
                interpreter = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("flags:") {
                (flags, unknown_flags) = Flags::parse_lenient(v.trim());
            } else if let Some(v) = line.strip_prefix("offset ") {
                offset = v.trim().parse().map_err(|_| bad())?;
            } else if let Some(v) = line.strip_prefix("magic ") {
                magic = Some(Bytes::from_hex(v.trim()).ok_or_else(bad)?);
            } else if let Some(v) = line.strip_prefix("mask ") {
                mask = Some(Bytes::from_hex(v.trim()).ok_or_else(bad)?);
            } else if let Some(v) = line.strip_prefix("extension .") {
                extension = Some(v.to_owned());
            }
        }
        let matcher = match (magic, extension) {
            (Some(magic), _)
                if mask
                    .as_ref()
                    .is_some_and(|m: &Bytes| m.len() != magic.len()) =>
            {
                return Err(EntryError::MaskLength {
                    magic: magic.len(),
                    mask: mask.map_or(0, |m| m.len()),
                })
            }
            (Some(magic), _) => Matcher::Magic {
                offset,
                magic,
                mask,
            },
            (None, Some(ext)) => Matcher::Extension(ext),
            (None, None) => return Err(EntryError::NoMatcher),
        };
        Ok(Entry {
            name,
            enabled,
            interpreter: interpreter.ok_or(EntryError::NoInterpreter)?,
            flags,
            unknown_flags,
            matcher,
        })
    }

    /// The registration this entry corresponds to (unknown flag letters dropped).
    pub fn registration(&self) -> Registration {
        Registration {
            name: self.name.clone(),
            matcher: self.matcher.clone(),
            interpreter: self.interpreter.clone(),
            flags: self.flags,
        }
    }

    /// The text the kernel prints for a registration, for tests and dry runs.
    pub fn render(reg: &Registration, enabled: bool) -> String {
        let mut s = format!(
            "{}\ninterpreter {}\nflags: {}\n",
            if enabled { "enabled" } else { "disabled" },
            reg.interpreter,
            reg.flags.effective()
        );
        match &reg.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => {
                s += &format!("offset {offset}\nmagic {}\n", magic.to_hex());
                if let Some(mask) = mask {
                    s += &format!("mask {}\n", mask.to_hex());
                }
            }
            Matcher::Extension(ext) => s += &format!("extension .{ext}\n"),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> EntryName {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_kernel_example() {
        let text = "enabled\ninterpreter /usr/bin/qemu-riscv64-static\nflags: PF\noffset 0\n\
                    magic 7f454c460201010000000000000000000200f300\n\
                    mask ffffffffffffff00fffffffffffffffffeffffff\n";
        let e = Entry::parse(name("riscv64-linux"), text).unwrap();
        assert!(e.enabled);
        assert_eq!(e.interpreter, "/usr/bin/qemu-riscv64-static");
        assert_eq!(e.flags.to_string(), "PF");
        let Matcher::Magic {
            offset,
            magic,
            mask,
        } = &e.matcher
        else {
            panic!()
        };
        assert_eq!(
            (*offset, magic.len(), mask.as_ref().map(Bytes::len)),
            (0, 20, Some(20))
        );
        assert_eq!(Entry::render(&e.registration(), true), text);
    }

    #[test]
    fn extension_disabled_unknown_flags_and_extra_lines() {
        let text =
            "disabled\ninterpreter /usr/bin/python3\nflags: PZ\nextension .py\nfuture line\n";
        let e = Entry::parse(name("py"), text).unwrap();
        assert!(!e.enabled);
        assert_eq!(e.matcher, Matcher::Extension("py".into()));
        assert_eq!(
            (e.flags.to_string().as_str(), e.unknown_flags.as_str()),
            ("P", "Z")
        );
    }

    #[test]
    fn interpreter_ending_in_carriage_return_reads_back_exactly() {
        let text = "enabled\ninterpreter /bin/q\r\nflags: \noffset 0\nmagic 4d5a\n";
        let e = Entry::parse(name("n"), text).unwrap();
        assert_eq!(e.interpreter, "/bin/q\r");
        assert_eq!(Entry::render(&e.registration(), true), text);
    }

    #[test]
    fn no_mask_and_empty_flags() {
        let text = "enabled\ninterpreter /usr/bin/wine\nflags: \noffset 0\nmagic 4d5a\n";
        let e = Entry::parse(name("DOSWin"), text).unwrap();
        assert_eq!(
            e.registration().to_string(),
            ":DOSWin:M::MZ::/usr/bin/wine:"
        );
    }

    #[test]
    fn errors() {
        let cases: &[(&str, EntryError)] = &[
            ("", EntryError::State(1, String::new())),
            ("maybe\n", EntryError::State(1, "maybe".into())),
            ("enabled\nflags: F\nmagic 00\n", EntryError::NoInterpreter),
            ("enabled\ninterpreter /x\n", EntryError::NoMatcher),
            (
                "enabled\ninterpreter /x\nmagic 0g\n",
                EntryError::Line(3, "magic 0g".into()),
            ),
            (
                "enabled\ninterpreter /x\noffset x\n",
                EntryError::Line(3, "offset x".into()),
            ),
            (
                "enabled\ninterpreter /x\nmagic 0102\nmask ff\n",
                EntryError::MaskLength { magic: 2, mask: 1 },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                Entry::parse(name("n"), text).as_ref(),
                Err(want),
                "{text:?}"
            );
        }
    }
}
