//! Reading a file: only what the reader needs (header, program headers, interp string), with
//! positioned reads, never the whole file; errors name the path.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt as _};
use std::path::Path;

use super::reader::{parse_from, ElfError, Fetched, Source, HEADER_LEN};
use super::ElfInfo;

/// Read only what is needed from a file (header, program headers, interp string) using
/// positioned reads, never the whole file; error names the path.
pub fn read_file(path: &Path) -> Result<ElfInfo, ElfError> {
    let io_error = |err| ElfError::Io {
        path: path.to_owned(),
        err,
    };
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    let file = File::options()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(ElfError::NotRegular {
            path: path.to_owned(),
            kind: file_kind(meta.file_type()),
        });
    }
    let source = FileSource { file: &file, path };
    let mut header = vec![0; HEADER_LEN];
    let len = source.read_up_to(0, &mut header).map_err(io_error)?;
    header.truncate(len);
    parse_from(&header, &source).map_err(|err| match err {
        err @ (ElfError::Io { .. } | ElfError::NotRegular { .. }) => err,
        err => ElfError::InFile {
            path: path.to_owned(),
            err: Box::new(err),
        },
    })
}

/// What a file that is not a regular file is, for messages.
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

struct FileSource<'a> {
    file: &'a File,
    path: &'a Path,
}

impl FileSource<'_> {
    /// Fill `buf` from `offset` with positioned reads until it is full or the file ends;
    /// returns how many bytes were read.
    fn read_up_to(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(at) = u64::try_from(filled)
                .ok()
                .and_then(|n| offset.checked_add(n))
            else {
                break;
            };
            let Some(rest) = buf.get_mut(filled..) else {
                break;
            };
            match self.file.read_at(rest, at) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(filled)
    }
}

impl Source for FileSource<'_> {
    fn fetch(&self, offset: u64, len: usize, what: &'static str) -> Fetched<'_> {
        // No file extends past i64::MAX (off_t); pread would fail with EINVAL there, which is
        // a malformed offset, not an I/O problem.
        let fits = u64::try_from(len)
            .ok()
            .and_then(|len| offset.checked_add(len))
            .is_some_and(|end| i64::try_from(end).is_ok());
        if !fits {
            return Err(ElfError::Truncated { what });
        }
        let mut buf = vec![0; len];
        let read = self
            .read_up_to(offset, &mut buf)
            .map_err(|err| ElfError::Io {
                path: self.path.to_owned(),
                err,
            })?;
        if read < len {
            return Err(ElfError::Truncated { what });
        }
        Ok(Cow::Owned(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::super::consts::{Class, Endian, EM_X86_64, PT_INTERP};
    use super::super::parse;
    use super::super::testfile::{corpus, kind, mutate, Spec, XorShift};
    use super::*;
    use std::path::PathBuf;

    /// A file in the temporary directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> Self {
            let path = std::env::temp_dir()
                .join(format!("binfmtctl-elf-test-{}-{name}", std::process::id()));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// `read_file` says what `parse` says, with the path in front of format errors.
    fn assert_same(
        path: &Path,
        from_bytes: &Result<ElfInfo, ElfError>,
        from_file: &Result<ElfInfo, ElfError>,
    ) {
        match (from_bytes, from_file) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b @ ElfError::InFile { path: p, err })) => {
                assert_eq!(p, path);
                assert_eq!(err.to_string(), a.to_string());
                assert_eq!(b.to_string(), format!("{}: {a}", path.display()));
            }
            (a, b) => panic!("parse gave {}, read_file gave {}", kind(a), kind(b)),
        }
    }

    #[test]
    fn read_file_agrees_with_parse() {
        let mut rng = XorShift(42);
        for (i, spec) in corpus().iter().enumerate() {
            let (file, _) = spec.build();
            let mut inputs: Vec<Vec<u8>> =
                (0..=file.len()).map(|len| file[..len].to_vec()).collect();
            for _ in 0..50 {
                let mut mutated = file.clone();
                mutate(&mut rng, &mut mutated);
                inputs.push(mutated);
            }
            let temp = TempFile::new(&format!("agree-{i}"), b"");
            for input in inputs {
                std::fs::write(&temp.0, &input).unwrap();
                assert_same(&temp.0, &parse(&input), &read_file(&temp.0));
            }
        }
    }

    #[test]
    fn read_file_names_the_path() {
        let missing = Path::new("/nonexistent/binfmtctl/elf-test");
        let err = read_file(missing).unwrap_err();
        assert!(
            matches!(&err, ElfError::Io { path, err } if path == missing && err.kind() == io::ErrorKind::NotFound)
        );
        assert_eq!(
            err.to_string(),
            "cannot read /nonexistent/binfmtctl/elf-test: No such file or directory (os error 2)"
        );

        let dir = std::env::temp_dir();
        let err = read_file(&dir).unwrap_err();
        assert!(
            matches!(&err, ElfError::NotRegular { path, kind: "a directory" } if *path == dir),
            "{err:?}"
        );

        let temp = TempFile::new("script", b"#!/bin/sh\necho hello\n");
        assert_eq!(
            read_file(&temp.0).unwrap_err().to_string(),
            format!(
                "{}: not an ELF file: it does not start with \\x7fELF",
                temp.0.display()
            )
        );

        let (file, _) = Spec::new(Class::Elf64, Endian::Little)
            .with(PT_INTERP, b"/ld.so\0")
            .build();
        let temp = TempFile::new("truncated", &file[..file.len() - 1]);
        assert_eq!(
            read_file(&temp.0).unwrap_err().to_string(),
            format!(
                "{}: truncated ELF file: the interpreter path (PT_INTERP) extends beyond the end of the data",
                temp.0.display()
            )
        );
    }

    /// A real file of this machine, or a failure that says what to install.
    fn real_file(path: &str, package: &str) -> (ElfInfo, Vec<u8>) {
        let path = Path::new(path);
        assert!(
            path.exists(),
            "{} is missing: install it with `apt-get install {package}`",
            path.display()
        );
        let info = read_file(path).unwrap_or_else(|e| panic!("{e}"));
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            parse(&bytes).unwrap(),
            info,
            "parse and read_file disagree on {}",
            path.display()
        );
        (info, bytes)
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn real_dynamic_executable() {
        let (info, bytes) = real_file("/bin/ls", "coreutils");
        assert_eq!(info.class, Class::Elf64);
        assert_eq!(info.endian, Endian::Little);
        assert_eq!(info.machine, EM_X86_64);
        assert_eq!(
            info.interp,
            Some(PathBuf::from("/lib64/ld-linux-x86-64.so.2"))
        );
        assert!(info.has_dynamic);
        assert!(!info.is_static());
        assert_eq!(info.header, bytes[..256]);
        assert_eq!(
            info.describe(),
            "ELF 64-bit LSB, x86-64 (0x3e), dynamic, interpreter /lib64/ld-linux-x86-64.so.2"
        );
        // A prefix holding the header but not the program headers is truncated.
        assert_eq!(
            kind(&parse(&bytes[..256])),
            "Truncated { what: \"program header table\" }"
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "kernel-tier"),
        ignore = "kernel tier: needs root or Debian's packages; bash scripts/test.sh runs it"
    )]
    fn real_static_executable() {
        // Debian builds its qemu-*-static as static-pie: PT_DYNAMIC but no PT_INTERP.
        let (info, _) = real_file("/usr/bin/qemu-riscv64-static", "qemu-user-static");
        assert_eq!(info.class, Class::Elf64);
        assert_eq!(info.endian, Endian::Little);
        assert_eq!(info.machine, EM_X86_64);
        assert_eq!(info.interp, None);
        assert!(info.is_static());
        assert!(info
            .describe()
            .starts_with("ELF 64-bit LSB, x86-64 (0x3e), static"));
    }
}
