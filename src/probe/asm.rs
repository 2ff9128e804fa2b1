//! The code buffer the ISA files write their programs into: instructions in the code's byte
//! order, data in the data's, addresses known from the load address.

use crate::elf::Endian::{self, Big, Little};

/// A code buffer that knows its load address and byte orders.
pub(super) struct Asm {
    origin: u32,
    pub(super) code: Endian,
    data: Endian,
    pub(super) bytes: Vec<u8>,
}

impl Asm {
    pub(super) fn new(origin: u32, code: Endian, data: Endian) -> Self {
        Asm {
            origin,
            code,
            data,
            bytes: Vec::new(),
        }
    }

    /// The address of the next byte.
    pub(super) fn here(&self) -> u32 {
        self.origin + len32(&self.bytes)
    }

    /// A 32-bit instruction word (or an instruction's 32-bit immediate), in code byte order.
    pub(super) fn word(&mut self, w: u32) {
        push32(&mut self.bytes, self.code, w);
    }

    /// A 16-bit instruction parcel, in code byte order.
    pub(super) fn half(&mut self, h: u16) {
        self.bytes.extend_from_slice(&match self.code {
            Little => h.to_le_bytes(),
            Big => h.to_be_bytes(),
        });
    }

    /// Instruction bytes in memory order (x86, s390x).
    pub(super) fn raw(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }

    /// A 32-bit data word, in data byte order.
    pub(super) fn data32(&mut self, w: u32) {
        push32(&mut self.bytes, self.data, w);
    }

    /// A 64-bit data word, in data byte order.
    pub(super) fn data64(&mut self, w: u64) {
        push64(&mut self.bytes, self.data, w);
    }

    /// Replaces the 32-bit instruction at `at` (an address) with `w`.
    pub(super) fn patch_word(&mut self, at: u32, w: u32) {
        let mut b = Vec::with_capacity(4);
        push32(&mut b, self.code, w);
        self.patch(at, &b);
    }

    /// Replaces the 16-bit instruction parcel at `at` (an address) with `h`.
    pub(super) fn patch_half(&mut self, at: u32, h: u16) {
        let b = match self.code {
            Little => h.to_le_bytes(),
            Big => h.to_be_bytes(),
        };
        self.patch(at, &b);
    }

    pub(super) fn patch(&mut self, at: u32, b: &[u8]) {
        let start = usize::try_from(at - self.origin).expect("patch inside the code");
        self.bytes[start..start + b.len()].copy_from_slice(b);
    }

    /// Pads with zero bytes to a multiple of `to` (only ever past the last instruction).
    pub(super) fn align(&mut self, to: u32) {
        while self.here() % to != 0 {
            self.bytes.push(0);
        }
    }
}

/// Checks that an immediate fits its field; the layout is fixed, so this only fires on a bug
/// in this file, and the unit tests build every probe.
pub(super) fn field(v: u32, bits: u32) -> u32 {
    assert!(v < (1 << bits), "immediate {v:#x} does not fit {bits} bits");
    v
}

/// [`field`] for an immediate inside a 16-bit instruction parcel (`bits` <= 16).
pub(super) fn field16(v: u32, bits: u32) -> u16 {
    u16::try_from(field(v, bits)).expect("field() checked the width")
}

pub(super) fn push32(bytes: &mut Vec<u8>, endian: Endian, v: u32) {
    bytes.extend_from_slice(&match endian {
        Little => v.to_le_bytes(),
        Big => v.to_be_bytes(),
    });
}

pub(super) fn push64(bytes: &mut Vec<u8>, endian: Endian, v: u64) {
    bytes.extend_from_slice(&match endian {
        Little => v.to_le_bytes(),
        Big => v.to_be_bytes(),
    });
}

/// The length of probe code or data: a few hundred bytes, so it always fits.
pub(super) fn len32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).expect("probe parts are a few hundred bytes")
}
