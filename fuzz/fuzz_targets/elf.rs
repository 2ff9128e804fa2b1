//! ELF identification (`identify`, `run`, the interpreter's static/dynamic check): parsing
//! never panics and what it reports is consistent with the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = binfmtctl::elf::parse(data) else {
        return;
    };
    // The magic written out, not `elf::ELFMAG`: the reader is checked against the bytes.
    assert!(data.starts_with(b"\x7fELF"));
    assert_eq!(info.header, data[..data.len().min(256)]);
    if let Some(interp) = &info.interp {
        assert!(interp.as_os_str().len() < 4096);
    }
    let _ = info.describe();
    let _ = info.is_static();
    let _ = binfmtctl::elf::machine_name(info.machine);
    let _ = binfmtctl_fuzz::profiles().for_header(&info.header);
});
