//! The bytes messages are cut from, built once per thread before any
//! connection opens (`--payload`).

use crate::rng::SplitMix64;

/// What the messages hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Bytes from the thread's random generator (printable ASCII with
    /// `--text`): incompressible, the default.
    Random,
    /// JSON-like text records, the same in every run and every thread:
    /// what a chat or push application sends, compressible about as real
    /// traffic is (field names repeat, values vary).
    Json,
}

impl Payload {
    pub fn parse(flag: &str, v: &str) -> Result<Payload, String> {
        match v {
            "random" => Ok(Payload::Random),
            "json" => Ok(Payload::Json),
            _ => Err(format!("{flag} {v}: expected random or json")),
        }
    }
}

/// Seed of the JSON generator: fixed, so every run and every tool sees the
/// same text.
const JSON_SEED: u64 = 0x6a73_6f6e_7265_6373;

const EVENTS: [&str; 6] = ["click", "view", "purchase", "message", "join", "leave"];
const CHANNELS: [&str; 5] = ["general", "random", "support", "sales", "dev"];
const WORDS: [&str; 12] = [
    "the", "order", "shipped", "today", "please", "check", "status", "new", "price", "update",
    "thanks", "ready",
];

/// `len` bytes of JSON records, one after another, each a line:
/// `{"id":..,"user":"user_..","event":"..","channel":"..","ts":..,
/// "score":0...,"text":"..."}`. Printable ASCII, so any window into it is
/// valid UTF-8; a window starts and ends anywhere in a record.
pub fn json_records(len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(JSON_SEED);
    let mut out = Vec::with_capacity(len + 256);
    let mut id: u64 = 100_000;
    let mut ts: u64 = 1_767_225_600_000;
    while out.len() < len {
        let r = rng.next_u64();
        id += 1 + r % 7;
        ts += r >> 54;
        let pick = |n: usize, shift: u32| (r >> shift) as usize % n;
        let mut text = String::new();
        for k in 0..3 + pick(6, 8) {
            if k > 0 {
                text.push(' ');
            }
            text.push_str(WORDS[(rng.next_u64() % WORDS.len() as u64) as usize]);
        }
        let record = format!(
            "{{\"id\":{id},\"user\":\"user_{:04}\",\"event\":\"{}\",\"channel\":\"{}\",\
             \"ts\":{ts},\"score\":0.{:03},\"text\":\"{text}\"}}\n",
            pick(5000, 12),
            EVENTS[pick(EVENTS.len(), 26)],
            CHANNELS[pick(CHANNELS.len(), 30)],
            pick(1000, 34),
        );
        out.extend_from_slice(record.as_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_records_are_deterministic_printable_records() {
        let a = json_records(20_000);
        assert_eq!(a.len(), 20_000);
        assert_eq!(a, json_records(20_000));
        assert!(a.iter().all(|&b| b == b'\n' || (b' '..=b'~').contains(&b)));
        let text = std::str::from_utf8(&a).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 50);
        // Every complete record is one JSON object with the same fields.
        for line in &lines[..lines.len() - 1] {
            assert!(
                line.starts_with("{\"id\":") && line.ends_with("\"}"),
                "{line}"
            );
            assert_eq!(line.matches("\":").count(), 7, "{line}");
        }
        // Values vary: not one record repeated.
        assert!(lines[0] != lines[1]);
        assert_eq!(Payload::parse("--payload", "json"), Ok(Payload::Json));
        assert!(Payload::parse("--payload", "zeros").is_err());
    }
}
