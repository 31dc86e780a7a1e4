//! Where a DEFLATE stream of one block ends within its last byte, read
//! from the block's header instead of by decoding the block.
//!
//! [`go_on`](super::libdeflate) must know how many bits of padding follow
//! the end of libdeflate's one block. Decoding the block to find out costs
//! about as much as inflating the message (a decode table per block),
//! which at 1 KiB was a fifth of the server's time per echo. The header of
//! a block with dynamic codes says which code ends it (symbol 256, its
//! length and its canonical value), and the block's last bits are that
//! code followed by zero padding: trying the 8 possible paddings against
//! the last bits nearly always leaves one. When none or several fit, or
//! the block has fixed codes (whose end code is 7 zero bits, like
//! padding), the answer is `None` and the caller decodes.

/// Reads bits least significant first, as DEFLATE packs them.
struct Bits<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    /// The next `n` (at most 25) bits, zeros past the end, not consumed.
    fn peek(&self, n: u32) -> u32 {
        let first = (self.at / 8).min(self.bytes.len());
        let mut word = 0u32;
        for (i, &b) in self.bytes[first..].iter().take(4).enumerate() {
            word |= u32::from(b) << (8 * i);
        }
        (word >> (self.at % 8)) & ((1u32 << n) - 1)
    }

    /// The next `n` (at most 25) bits, or `None` past the end.
    fn take(&mut self, n: u32) -> Option<u32> {
        let end = self.at + n as usize;
        if end > self.bytes.len() * 8 {
            return None;
        }
        let value = self.peek(n);
        self.at = end;
        Some(value)
    }
}

/// The header's code-length code (19 symbols, codes of at most 7 bits)
/// as a table indexed by the next 7 bits of the stream.
struct CodeLengthCode {
    /// `(symbol, code length)`; length 0 where no code starts so.
    table: [(u8, u8); 128],
}

impl CodeLengthCode {
    /// `None` when the lengths describe no code (all zero).
    fn new(lengths: &[u8; 19]) -> Option<Self> {
        let mut count = [0u32; 8];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut next = [0u32; 8];
        let mut code = 0;
        for len in 1..8 {
            code = (code + count[len - 1]) << 1;
            next[len] = code;
        }
        let mut table = [(0u8, 0u8); 128];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let code = next[usize::from(len)];
            next[usize::from(len)] += 1;
            if code >= 1 << len {
                return None; // over-subscribed: not a code
            }
            // Codes go out most significant bit first: reversed, as they
            // lie in the stream; every 7-bit value that starts with them.
            let laid = code.reverse_bits() >> (32 - u32::from(len));
            let mut v = laid as usize;
            while v < 128 {
                table[v] = (symbol as u8, len);
                v += 1 << len;
            }
        }
        Some(CodeLengthCode { table })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Option<u8> {
        let (symbol, len) = self.table[bits.peek(7) as usize];
        if len == 0 {
            return None;
        }
        bits.take(u32::from(len))?;
        Some(symbol)
    }
}

/// The order in which a dynamic header lists the code-length code's
/// lengths (RFC 1951 section 3.2.7).
const ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// The zero bits that pad `block`, a stream of exactly one block (ending
/// on its last byte), after the block's end: 0-7. `None` when the header
/// does not settle it; then only decoding can tell.
pub(crate) fn padding(block: &[u8]) -> Option<u32> {
    let mut bits = Bits {
        bytes: block,
        at: 0,
    };
    let _final = bits.take(1)?;
    match bits.take(2)? {
        // Stored: the header, padding to a byte, LEN, NLEN and LEN bytes;
        // it ends on a byte.
        0 => {
            let len = usize::from(block.get(1..3).map(|b| u16::from_le_bytes([b[0], b[1]]))?);
            (block.len() == 5 + len).then_some(0)
        }
        2 => dynamic_padding(&mut bits, block),
        _ => None,
    }
}

fn dynamic_padding(bits: &mut Bits<'_>, block: &[u8]) -> Option<u32> {
    let literals = bits.take(5)? as usize + 257;
    let _distances = bits.take(5)?;
    let listed = bits.take(4)? as usize + 4;
    let mut cl_lengths = [0u8; 19];
    for &symbol in &ORDER[..listed] {
        cl_lengths[symbol] = bits.take(3)? as u8;
    }
    let cl = CodeLengthCode::new(&cl_lengths)?;
    // The literal/length code's lengths (the distance code's follow; the
    // end code does not depend on them).
    let mut lengths = [0u8; 288];
    // Codes of each length, counted by runs as they are read (counting
    // symbol by symbol stalls on the same few counters).
    let mut count = [0u32; 16];
    let mut n = 0;
    while n < literals {
        let (value, repeat) = match cl.decode(bits)? {
            l @ 0..=15 => (l, 1),
            16 => (*lengths.get(n.checked_sub(1)?)?, 3 + bits.take(2)? as usize),
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        // A run may cross into the distance code's lengths: keep only
        // what falls in the literal/length code.
        let run = repeat.min(literals - n);
        lengths[n..n + run].fill(value);
        count[usize::from(value)] += run as u32;
        n += run;
    }
    let end_len = u32::from(lengths[256]);
    if end_len == 0 {
        return None;
    }
    // The canonical code of symbol 256 (RFC 1951 section 3.2.2).
    let code = count[1..end_len as usize]
        .iter()
        .fold(0u32, |code, &n| (code + n) << 1);
    let before = lengths[..256]
        .iter()
        .filter(|&&l| u32::from(l) == end_len)
        .count() as u32;
    let end_code = code + before;
    // Codes go out most significant bit first: reversed, as they lie.
    let laid = end_code.reverse_bits() >> (32 - end_len);
    let total = block.len() * 8;
    let header_end = bits.at;
    let bit = |i: usize| u32::from((block[i / 8] >> (i % 8)) & 1);
    let mut found = None;
    for pad in 0..8u32 {
        let Some(end_at) = total.checked_sub(pad as usize + end_len as usize) else {
            break;
        };
        if end_at < header_end {
            break;
        }
        let zeros = (total - pad as usize..total).all(|i| bit(i) == 0);
        let code_fits = (0..end_len as usize).all(|i| bit(end_at + i) == (laid >> i) & 1);
        if zeros && code_fits {
            if found.is_some() {
                return None;
            }
            found = Some(pad);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::padding;

    #[test]
    fn any_bytes_give_an_answer_without_panicking() {
        let mut x: u32 = 0x9e37_79b9;
        let bytes: std::vec::Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut answers = 0;
        for start in 0..256 {
            for len in [0, 1, 2, 3, 5, 17, 100, 1000, 3000] {
                let mut block = bytes[start..start + len].to_vec();
                if let Some(first) = block.first_mut() {
                    *first = (*first & !6) | 4; // dynamic codes
                }
                if let Some(pad) = padding(&block) {
                    assert!(pad < 8);
                    answers += 1;
                }
            }
        }
        // Noise rarely makes a header that parses to the end.
        assert!(answers < 256 * 9 / 2, "{answers}");
    }
}
