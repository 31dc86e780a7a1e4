//! The inputs of the comparison: masked binary frames as a client sends
//! them, encoded once by our encoder and fed byte for byte to every library.

use rfc6455::frame::{Frame, OpCode};

/// One point of the comparison.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// The label used in benchmark ids and tables.
    pub label: &'static str,
    /// Payload bytes per message (one frame per message).
    pub size: usize,
}

impl Point {
    /// Messages per benchmark iteration: enough to fill at least one 64 KiB
    /// read (at least one), so small messages are measured in the batches
    /// a busy connection receives rather than one at a time.
    pub fn count(&self) -> usize {
        ((64 << 10) / self.size).max(1)
    }

    /// Payload bytes per iteration.
    pub fn payload_bytes(&self) -> usize {
        self.count() * self.size
    }
}

/// The message sizes of issue 8: 20 B, 1 KiB, 16 KiB, 1 MiB.
pub const POINTS: [Point; 4] = [
    Point {
        label: "20B",
        size: 20,
    },
    Point {
        label: "1KiB",
        size: 1 << 10,
    },
    Point {
        label: "16KiB",
        size: 16 << 10,
    },
    Point {
        label: "1MiB",
        size: 1 << 20,
    },
];

/// The payload of every message of `size` bytes.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + 7) as u8).collect()
}

/// `count` masked binary frames of `size` bytes, each with its own key, as
/// one byte stream.
pub fn client_frames(size: usize, count: usize) -> Vec<u8> {
    let payload = payload(size);
    let mut key = 0x9e37_79b9u32;
    let mut wire = Vec::with_capacity(count * (size + 14));
    for _ in 0..count {
        key = key.wrapping_mul(0x0019_660d).wrapping_add(0x3c6e_f35f);
        Frame::new(OpCode::Binary, &payload)
            .masked(key.to_le_bytes())
            .encode_to_vec(&mut wire);
    }
    wire
}

/// What a server must send back for [`client_frames`]: the same messages,
/// unmasked, each header in its shortest form.
pub fn expected_echo(size: usize, count: usize) -> Vec<u8> {
    let payload = payload(size);
    let mut wire = Vec::with_capacity(count * (size + 10));
    for _ in 0..count {
        Frame::new(OpCode::Binary, &payload).encode_to_vec(&mut wire);
    }
    wire
}
