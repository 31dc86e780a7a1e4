//! Payload masking (RFC 6455 section 5.3).
//!
//! Every byte of a client-to-server payload is XORed with one byte of a
//! four-byte key, cycling. Masking and unmasking are the same operation, and
//! they run over every byte a server receives, so this is a hot loop.
//!
//! [`apply_mask`] works in place on any piece of a payload: `offset` says
//! where the piece starts within the frame's payload, so a payload that
//! arrives across several reads is unmasked read by read. The fast path is
//! safe Rust that the compiler turns into SIMD: the key is rotated to the
//! piece's phase, widened to a 32-byte block, and XORed a block at a time
//! (on long pieces, from the first 32-byte aligned address).
//! [`apply_mask_scalar`] is the obvious byte loop it must agree with.

/// Bytes handled per step of the fast path. 32 lets LLVM use two SSE2
/// registers (or one AVX2 register) per iteration with no tail inside.
const BLOCK: usize = 32;

/// Payloads at least this long are aligned to BLOCK before the block loop.
const ALIGN_FROM: usize = 4096;

/// XORs `payload` with the cycling `key`, in place.
///
/// `offset` is the position of `payload[0]` within the frame's payload, so
/// that `apply_mask(&mut p[..n], key, 0)` followed by
/// `apply_mask(&mut p[n..], key, n)` equals `apply_mask(p, key, 0)`.
/// Applying the same mask twice restores the input.
///
/// ```
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// rfc6455::mask::apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 section 5.7
/// rfc6455::mask::apply_mask(&mut data[..2], key, 0);
/// rfc6455::mask::apply_mask(&mut data[2..], key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(payload: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    if payload.len() < BLOCK {
        // Short payloads (chat lines, acks) a word at a time.
        let wide = u32::from_ne_bytes(key);
        let (words, tail) = payload.as_chunks_mut::<4>();
        for word in words {
            *word = (u32::from_ne_bytes(*word) ^ wide).to_ne_bytes();
        }
        return apply_mask_scalar(tail, key, 0);
    }
    // On longer payloads, start the blocks on a BLOCK-aligned address so
    // that no block load or store straddles a cache line: a payload right
    // after an 8- or 14-byte header masked 1.2-1.3x slower without this at
    // 64 KiB and 1 MiB. Below 4 KiB the head loop costs more than it saves.
    // Reading an address is safe; `align_offset` may in theory give up
    // (usize::MAX), and then the whole payload goes through the head loop.
    let head = if payload.len() >= ALIGN_FROM {
        payload.as_ptr().align_offset(BLOCK).min(payload.len())
    } else {
        0
    };
    let (head, payload) = payload.split_at_mut(head);
    apply_mask_scalar(head, key, 0);
    let key = rotate_key(key, head.len());
    let mut wide = [0u8; BLOCK];
    for (i, b) in wide.iter_mut().enumerate() {
        *b = key[i % 4];
    }
    let (blocks, tail) = payload.as_chunks_mut::<BLOCK>();
    for block in blocks {
        for (b, k) in block.iter_mut().zip(wide) {
            *b ^= k;
        }
    }
    // BLOCK is a multiple of 4, so the tail starts in phase 0.
    apply_mask_scalar(tail, key, 0);
}

/// The reference byte-at-a-time masking loop.
///
/// Same contract as [`apply_mask`]; kept public as the oracle that property
/// tests, fuzzing and benchmarks compare the fast path against.
#[inline]
pub fn apply_mask_scalar(payload: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[(offset.wrapping_add(i)) % 4];
    }
}

/// The key as seen from `offset` bytes into the payload: byte `i` of the
/// result is `key[(offset + i) % 4]`.
///
/// A rotation of a `u32` in little-endian byte order, one instruction. (The
/// slice method `<[u8]>::rotate_left` with a run-time amount compiles to
/// calls to `memcpy` and `memmove`, which cost more than masking a small
/// piece byte by byte.)
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let bits = 8 * (offset % 4) as u32;
    u32::from_le_bytes(key).rotate_right(bits).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn fast_equals_scalar_for_every_offset_and_short_lengths() {
        let key = [0x01, 0x80, 0xfe, 0x5a];
        for len in 0..200usize {
            for offset in 0..8usize {
                let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
                let mut fast = data.clone();
                let mut slow = data.clone();
                apply_mask(&mut fast, key, offset);
                apply_mask_scalar(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn offset_wraps_near_usize_max() {
        let key = [1, 2, 3, 4];
        let mut a = [0u8; 40];
        let mut b = [0u8; 40];
        apply_mask(&mut a, key, usize::MAX);
        apply_mask_scalar(&mut b, key, usize::MAX);
        assert_eq!(a, b);
        // usize::MAX % 4 == 3: the first byte uses key[3].
        assert_eq!(a[0], 4);
    }
}
