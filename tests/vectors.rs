//! Runs every frame test vector in `vectors/frames/*.json` (format:
//! `vectors/README.md`) both ways: the input decodes to the expected outcome,
//! and every expected frame or header re-encodes, with the vector's masking
//! key, to exactly the input bytes.
//!
//! All vectors run even when one fails; the failures are listed at the end
//! by file and name.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rfc6455::frame::{
    decode_frame, DecodeRules, Frame, FrameHeader, OpCode, Role, Status, MAX_HEADER_LEN, RSV1,
    RSV2, RSV3,
};
use rfc6455::FrameError;
use serde::Deserialize;

/// The receiver's frame limit when a vector sets none. Part of the format,
/// deliberately not `Limits::DEFAULT`: the vectors must not change meaning
/// when the crate's default does.
const FORMAT_DEFAULT_MAX_FRAME_SIZE: u64 = 1 << 24;

/// A guard against a glob that matches nothing, or files that lost vectors.
const MIN_VECTORS: usize = 60;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    group: String,
    #[allow(dead_code)]
    description: String,
    vectors: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    #[allow(dead_code)]
    #[serde(default)]
    note: Option<String>,
    role: RoleName,
    max_frame_size: Option<u64>,
    #[serde(default)]
    allowed_rsv: Vec<RsvName>,
    input: ByteString,
    expect: Expect,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RoleName {
    Server,
    Client,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RsvName {
    Rsv1,
    Rsv2,
    Rsv3,
}

/// Hex, or a list of parts: hex strings and `{"repeat": hex, "len": n}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ByteString {
    Hex(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Part {
    Hex(String),
    Repeat(Repeat),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repeat {
    repeat: String,
    len: u64,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expect {
    Frame(ExpectFrame),
    Header(ExpectHeader),
    Incomplete(ExpectIncomplete),
    Error(ExpectError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFrame {
    frame: FrameFields,
    consumed: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameFields {
    fin: bool,
    rsv1: bool,
    rsv2: bool,
    rsv3: bool,
    opcode: u8,
    mask: Option<String>,
    payload: ByteString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectHeader {
    header: HeaderFields,
    header_len: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFields {
    fin: bool,
    rsv1: bool,
    rsv2: bool,
    rsv3: bool,
    opcode: u8,
    mask: Option<String>,
    payload_len: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectIncomplete {
    incomplete: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectError {
    error: String,
    close_code: u16,
}

// ---------------------------------------------------------------------------
// Conversions from the JSON form.

fn hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex {s:?}"))
        })
        .collect()
}

/// Byte strings are materialised; the format keeps them small enough to be.
fn bytes(b: &ByteString) -> Result<Vec<u8>, String> {
    const MATERIALISE_LIMIT: u64 = 1 << 24;
    let parts = match b {
        ByteString::Hex(s) => return hex(s),
        ByteString::Parts(parts) => parts,
    };
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Hex(s) => out.extend(hex(s)?),
            Part::Repeat(Repeat { repeat, len }) => {
                let pattern = hex(repeat)?;
                if pattern.is_empty() || *len > MATERIALISE_LIMIT {
                    return Err(format!("unusable repeat part ({len} bytes of {repeat:?})"));
                }
                out.extend(pattern.iter().cycle().take(*len as usize));
            }
        }
    }
    Ok(out)
}

fn mask_key(m: &Option<String>) -> Result<Option<[u8; 4]>, String> {
    m.as_deref()
        .map(|s| {
            hex(s)?
                .try_into()
                .map_err(|_| format!("mask {s:?} is not 4 bytes"))
        })
        .transpose()
}

fn opcode(op: u8) -> Result<OpCode, String> {
    OpCode::from_u8(op).ok_or_else(|| format!("expected frame has reserved opcode {op:#x}"))
}

#[allow(clippy::too_many_arguments)]
fn header_from(
    fin: bool,
    rsv1: bool,
    rsv2: bool,
    rsv3: bool,
    op: u8,
    mask: &Option<String>,
    payload_len: u64,
) -> Result<FrameHeader, String> {
    Ok(FrameHeader {
        fin,
        rsv1,
        rsv2,
        rsv3,
        opcode: opcode(op)?,
        mask: mask_key(mask)?,
        payload_len,
    })
}

fn rules(v: &Vector) -> DecodeRules {
    let allowed_rsv = v.allowed_rsv.iter().fold(0, |bits, r| {
        bits | match r {
            RsvName::Rsv1 => RSV1,
            RsvName::Rsv2 => RSV2,
            RsvName::Rsv3 => RSV3,
        }
    });
    DecodeRules {
        role: match v.role {
            RoleName::Server => Role::Server,
            RoleName::Client => Role::Client,
        },
        allowed_rsv,
        max_frame_size: v.max_frame_size.unwrap_or(FORMAT_DEFAULT_MAX_FRAME_SIZE),
    }
}

/// The variant's name as the vectors spell it. Exhaustive on purpose: a new
/// variant must get a name here, and then vectors.
fn error_name(e: FrameError) -> &'static str {
    match e {
        FrameError::ReservedOpcode(_) => "ReservedOpcode",
        FrameError::ReservedBits(_) => "ReservedBits",
        FrameError::FragmentedControl => "FragmentedControl",
        FrameError::ControlTooLong => "ControlTooLong",
        FrameError::LengthMsbSet => "LengthMsbSet",
        FrameError::NonMinimalLength => "NonMinimalLength",
        FrameError::FrameTooLarge => "FrameTooLarge",
        FrameError::UnmaskedFrame => "UnmaskedFrame",
        FrameError::MaskedFrame => "MaskedFrame",
    }
}

const ALL_ERRORS: [&str; 9] = [
    "ReservedOpcode",
    "ReservedBits",
    "FragmentedControl",
    "ControlTooLong",
    "LengthMsbSet",
    "NonMinimalLength",
    "FrameTooLarge",
    "UnmaskedFrame",
    "MaskedFrame",
];

// ---------------------------------------------------------------------------
// Checking one vector.

/// What the vectors covered, for the coverage assertions.
#[derive(Default)]
struct Coverage {
    errors: BTreeSet<String>,
    reserved_opcodes: BTreeSet<u8>,
    lengths: BTreeSet<u64>,
}

fn check(v: &Vector, seen: &mut Coverage) -> Result<(), String> {
    let rules = rules(v);
    let input = bytes(&v.input)?;
    let header_result = FrameHeader::decode(&input, &rules);
    let mut buf = input.clone();
    let frame_result = decode_frame(&mut buf, &rules);
    check_header_result_is_in_bounds(&header_result, input.len())?;

    match &v.expect {
        Expect::Frame(ExpectFrame { frame, consumed }) => {
            let payload = bytes(&frame.payload)?;
            let header = header_from(
                frame.fin,
                frame.rsv1,
                frame.rsv2,
                frame.rsv3,
                frame.opcode,
                &frame.mask,
                payload.len() as u64,
            )?;
            let expected = Frame {
                header,
                payload: &payload,
            };
            seen.lengths.insert(header.payload_len);
            // Decode.
            match frame_result {
                Ok(Status::Complete((got, used))) => {
                    if got.header != header {
                        return Err(format!("decoded header {:?}", got.header));
                    }
                    if got.payload != &payload[..] {
                        return Err("decoded payload differs".into());
                    }
                    if used != *consumed {
                        return Err(format!("consumed {used}, expected {consumed}"));
                    }
                }
                other => return Err(format!("decode_frame gave {other:?}, expected a frame")),
            }
            match header_result {
                Ok(Status::Complete((h, len)))
                    if h == header && len + payload.len() == *consumed => {}
                other => {
                    return Err(format!(
                        "FrameHeader::decode gave {other:?}, expected {header:?}"
                    ))
                }
            }
            // Encode, both ways the crate offers.
            let wire = input
                .get(..*consumed)
                .ok_or("consumed is longer than the input")?;
            let mut out = Vec::new();
            expected.encode_to_vec(&mut out);
            if out != wire {
                return Err("encode_to_vec does not give back the input".into());
            }
            let mut slice = vec![0u8; expected.encoded_len() + 3];
            match expected.encode_to_slice(&mut slice) {
                Ok(n) if slice[..n] == *wire => {}
                other => return Err(format!("encode_to_slice gave {other:?} / other bytes")),
            }
            check_prefixes_are_incomplete(wire, &rules)?;
        }

        Expect::Header(ExpectHeader { header, header_len }) => {
            let expected = header_from(
                header.fin,
                header.rsv1,
                header.rsv2,
                header.rsv3,
                header.opcode,
                &header.mask,
                header.payload_len,
            )?;
            seen.lengths.insert(expected.payload_len);
            match header_result {
                Ok(Status::Complete((h, len))) if h == expected && len == *header_len => {}
                other => {
                    return Err(format!(
                        "FrameHeader::decode gave {other:?}, expected {expected:?} in {header_len} bytes"
                    ))
                }
            }
            // The whole-frame decoder waits for the payload, or, where the
            // length cannot be addressed on this platform, refuses it.
            let want = usize::try_from(expected.payload_len)
                .ok()
                .and_then(|p| p.checked_add(*header_len));
            let ok = match (want, frame_result) {
                (Some(total), Ok(Status::Incomplete(n))) => {
                    total > input.len() && n == total - input.len()
                }
                (Some(total), Ok(Status::Complete((_, used)))) => used == total,
                (None, Err(FrameError::FrameTooLarge)) => true,
                _ => false,
            };
            if !ok {
                return Err(format!("decode_frame gave {frame_result:?}"));
            }
            // Encode.
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = expected.encode(&mut out);
            if n != *header_len || expected.encoded_len() != n || input.get(..n) != Some(&out[..n])
            {
                return Err(format!("header encodes to {:02x?}", &out[..n]));
            }
            check_prefixes_are_incomplete(&input[..n], &rules)?;
        }

        Expect::Incomplete(ExpectIncomplete { incomplete }) => {
            if frame_result != Ok(Status::Incomplete(*incomplete)) {
                return Err(format!(
                    "decode_frame gave {frame_result:?}, expected Incomplete({incomplete})"
                ));
            }
            // The header decoder agrees: it needs the same bytes, or has its
            // header and the rest is payload.
            let agrees = match header_result {
                Ok(Status::Incomplete(n)) => n == *incomplete,
                Ok(Status::Complete((h, len))) => {
                    len as u64 + h.payload_len == (input.len() + incomplete) as u64
                }
                Err(_) => false,
            };
            if !agrees {
                return Err(format!("FrameHeader::decode gave {header_result:?}"));
            }
        }

        Expect::Error(ExpectError { error, close_code }) => {
            if !ALL_ERRORS.contains(&error.as_str()) {
                return Err(format!("unknown error name {error:?}"));
            }
            seen.errors.insert(error.clone());
            for (what, result) in [
                ("FrameHeader::decode", header_result.map(|_| ())),
                ("decode_frame", frame_result.map(|_| ())),
            ] {
                let e = match result {
                    Err(e) => e,
                    Ok(()) => return Err(format!("{what} did not fail, expected {error}")),
                };
                if error_name(e) != error {
                    return Err(format!("{what} gave {e:?}, expected {error}"));
                }
                if e.close_code().0 != *close_code {
                    return Err(format!("{e:?} maps to close code {}", e.close_code().0));
                }
                // The values the variants carry follow from the input.
                let b0 = input[0];
                let carried_ok = match e {
                    FrameError::ReservedOpcode(op) => op == b0 & 0x0f,
                    FrameError::ReservedBits(bits) => bits == b0 & 0x70 & !rules.allowed_rsv,
                    _ => true,
                };
                if !carried_ok {
                    return Err(format!("{e:?} for first byte {b0:#04x}"));
                }
                if let FrameError::ReservedOpcode(op) = e {
                    seen.reserved_opcodes.insert(op);
                }
            }
        }
    }
    Ok(())
}

/// A reported header length never exceeds the input.
fn check_header_result_is_in_bounds(
    r: &Result<Status<(FrameHeader, usize)>, FrameError>,
    len: usize,
) -> Result<(), String> {
    match r {
        Ok(Status::Complete((_, n))) if *n > len => {
            Err(format!("header length {n} exceeds the input ({len})"))
        }
        Ok(Status::Incomplete(0)) => Err("incomplete, yet nothing missing".into()),
        _ => Ok(()),
    }
}

/// Every proper prefix of a valid frame (or header) is incomplete: the
/// decoder neither errs nor completes early. Long payloads are sampled.
fn check_prefixes_are_incomplete(wire: &[u8], rules: &DecodeRules) -> Result<(), String> {
    let mut buf = wire.to_vec();
    let cuts: Vec<usize> = if wire.len() <= 4096 {
        (0..wire.len()).collect()
    } else {
        (0..=MAX_HEADER_LEN)
            .chain([wire.len() / 2, wire.len() - 1])
            .collect()
    };
    for cut in cuts {
        match decode_frame(&mut buf[..cut], rules) {
            Ok(Status::Incomplete(n)) if n > 0 && cut + n <= wire.len() => {}
            other => return Err(format!("prefix of {cut} bytes gave {other:?}")),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/frames");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn frame_vectors_decode_and_re_encode() {
    let mut failures = String::new();
    let mut count = 0;
    let mut seen = Coverage::default();
    for path in vector_files() {
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("readable vector file");
        let file: VectorFile = match serde_json::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                writeln!(failures, "{file_name}: not a vector file: {e}").unwrap();
                continue;
            }
        };
        if path.file_stem().is_some_and(|s| *s != *file.group) {
            writeln!(failures, "{file_name}: group is {:?}", file.group).unwrap();
        }
        let mut names = BTreeSet::new();
        for v in &file.vectors {
            count += 1;
            if !names.insert(v.name.as_str()) {
                writeln!(failures, "{file_name}: {}: duplicate name", v.name).unwrap();
            }
            if let Err(why) = check(v, &mut seen) {
                writeln!(failures, "{file_name}: {}: {why}", v.name).unwrap();
            }
        }
    }
    assert!(failures.is_empty(), "failing vectors:\n{failures}");
    assert!(
        count >= MIN_VECTORS,
        "only {count} frame vectors found (expected at least {MIN_VECTORS})"
    );
    println!("{count} frame vectors passed");

    // Coverage that the vector files promise; editing vectors away fails here.
    let missing: Vec<_> = ALL_ERRORS
        .iter()
        .filter(|e| !seen.errors.contains(**e))
        .collect();
    assert!(missing.is_empty(), "no vector for errors {missing:?}");
    let reserved: BTreeSet<u8> = (0x3..=0x7).chain(0xb..=0xf).collect();
    assert_eq!(seen.reserved_opcodes, reserved, "reserved opcodes covered");
    for len in [0, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 63) - 1] {
        assert!(seen.lengths.contains(&len), "no vector with length {len}");
    }
}
