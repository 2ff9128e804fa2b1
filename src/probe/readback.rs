//! Reads a probe's ELF fields back for the tests, byte by byte at the offsets the gABI gives,
//! without `crate::elf` or the writer's code: a mistake the writer and the reader shared would
//! otherwise pass unseen. (`every_probe_is_accepted_by_the_reader` checks `crate::elf` too.)

/// The ELF fields a probe is checked against, read back from its bytes.
pub(super) struct Parsed {
    pub(super) class: u8,
    pub(super) data: u8,
    pub(super) e_type: u16,
    pub(super) machine: u16,
    pub(super) version: u32,
    pub(super) entry: u64,
    pub(super) phoff: u64,
    pub(super) flags: u32,
    pub(super) ehsize: u16,
    pub(super) phentsize: u16,
    pub(super) phnum: u16,
    pub(super) p_type: u32,
    pub(super) p_flags: u32,
    pub(super) p_offset: u64,
    pub(super) p_vaddr: u64,
    pub(super) p_filesz: u64,
    pub(super) p_memsz: u64,
}

pub(super) fn parse(b: &[u8]) -> Parsed {
    assert_eq!(&b[..4], b"\x7fELF");
    let big = b[5] == 2;
    let wide = b[4] == 2;
    let rd = |at: usize, n: usize| -> u64 {
        let s = &b[at..at + n];
        let mut v = 0u64;
        for i in 0..n {
            let byte = if big { s[i] } else { s[n - 1 - i] };
            v = v << 8 | u64::from(byte);
        }
        v
    };
    let r16 = |at| u16::try_from(rd(at, 2)).unwrap();
    let r32 = |at| u32::try_from(rd(at, 4)).unwrap();
    let w = if wide { 8 } else { 4 };
    let entry = rd(24, w);
    let phoff = rd(24 + w, w);
    let after_addrs = 24 + 3 * w;
    let ph = usize::try_from(phoff).unwrap();
    // Offsets in the program header of p_flags, p_offset, p_vaddr, p_filesz, p_memsz: p_flags
    // moves after p_type in ELF64, for alignment.
    let at = if wide {
        [4, 8, 16, 32, 40]
    } else {
        [24, 4, 8, 16, 20]
    };
    let (p_type, p_flags) = (r32(ph), r32(ph + at[0]));
    let [p_offset, p_vaddr, p_filesz, p_memsz] =
        [at[1], at[2], at[3], at[4]].map(|a| rd(ph + a, w));
    Parsed {
        class: b[4],
        data: b[5],
        e_type: r16(16),
        machine: r16(18),
        version: r32(20),
        entry,
        phoff,
        flags: r32(after_addrs),
        ehsize: r16(after_addrs + 4),
        phentsize: r16(after_addrs + 6),
        phnum: r16(after_addrs + 8),
        p_type,
        p_flags,
        p_offset,
        p_vaddr,
        p_filesz,
        p_memsz,
    }
}
