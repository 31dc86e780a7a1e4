//! The frame layer: header and whole-frame decoding.

use alloc::vec::Vec;

use super::Input;
use crate::frame::{
    decode_frame, DecodeRules, FrameHeader, Role, Status, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
use crate::mask::apply_mask_scalar;

/// Frame limits the fuzzer chooses from: around every length-form boundary.
const FRAME_LIMITS: [u64; 8] = [
    crate::Limits::DEFAULT.max_frame_size,
    0,
    125,
    126,
    65_535,
    65_536,
    1 << 32,
    u64::MAX,
];

/// `frame_decode`: arbitrary bytes into the header and frame decoders, for
/// both roles.
///
/// - every prefix of the header decodes consistently with the whole: an
///   error is final and found as soon as its byte is there, a complete
///   header decodes the same from any longer input, and `Incomplete(n)` is a
///   lower bound that is exact for the header from its second byte on;
/// - the header length never exceeds the input and equals
///   `encoded_len()`; the header obeys the rules it was decoded under;
/// - a decoded header re-encodes to exactly its bytes (non-minimal lengths
///   are rejected, so this must hold), and a decoded frame re-encodes,
///   through both encoders, to exactly the bytes it took;
/// - the payload is the input XORed with the key (checked with the scalar
///   loop).
///
/// Input: flags (1: RSV bits allowed, frame limit), wire bytes.
pub fn fuzz_frame_decode(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let wire = input.rest();
    let allowed_rsv = (flags << 4) & 0x70;
    let max_frame_size = FRAME_LIMITS[usize::from(flags >> 3) & 7];
    for role in [Role::Server, Role::Client] {
        let rules = DecodeRules {
            role,
            allowed_rsv,
            max_frame_size,
        };
        check_frame(wire, &rules);
    }
}

fn check_frame(wire: &[u8], rules: &DecodeRules) {
    let whole = FrameHeader::decode(wire, rules);

    for k in 0..wire.len().min(MAX_HEADER_LEN + 1) {
        let part = FrameHeader::decode(&wire[..k], rules);
        match part {
            Err(e) => assert_eq!(whole, Err(e), "prefix {k} failed, the whole did not"),
            Ok(Status::Complete(c)) => {
                assert_eq!(whole, Ok(Status::Complete(c)), "prefix {k} complete")
            }
            Ok(Status::Incomplete(n)) => {
                assert!(n >= 1, "prefix {k}: Incomplete(0)");
                if let Ok(Status::Complete((_, hl))) = whole {
                    // Exact for the header from the second byte on (its
                    // size is known from there), a lower bound before.
                    if k >= 2 {
                        assert_eq!(k + n, hl, "prefix {k}: count not exact");
                    } else {
                        assert!(k + n <= hl, "prefix {k}: needs {n}, header is {hl}");
                    }
                }
            }
        }
    }

    let mut copy = wire.to_vec();
    let frame = decode_frame(&mut copy, rules);
    let (header, header_len) = match whole {
        Err(e) => {
            assert_eq!(frame.map(|_| ()), Err(e), "decode_frame disagrees");
            return;
        }
        Ok(Status::Incomplete(n)) => {
            assert!(n >= 1);
            assert!(
                matches!(frame, Ok(Status::Incomplete(m)) if m == n),
                "decode_frame disagrees: {frame:?}"
            );
            return;
        }
        Ok(Status::Complete(c)) => c,
    };

    assert!((2..=MAX_HEADER_LEN).contains(&header_len));
    assert!(header_len <= wire.len(), "header longer than the input");
    assert_eq!(header_len, header.encoded_len());
    assert_eq!(
        header.to_bytes().as_bytes(),
        &wire[..header_len],
        "re-encode"
    );
    let mut out = [0u8; MAX_HEADER_LEN];
    assert_eq!(header.encode(&mut out), header_len);
    assert_eq!(header.mask.is_some(), rules.role == Role::Server, "masking");
    assert_eq!(header.rsv_bits() & !rules.allowed_rsv, 0, "RSV");
    assert_eq!(header.opcode.as_u8(), wire[0] & 0x0f);
    assert_eq!(header.fin, wire[0] & 0x80 != 0);
    if header.opcode.is_control() {
        assert!(header.fin && header.payload_len <= MAX_CONTROL_PAYLOAD as u64);
    }
    assert!(header.payload_len <= rules.max_frame_size);
    assert!(header.payload_len >> 63 == 0);

    let total = header_len as u128 + u128::from(header.payload_len);
    let (frame, used) = match frame {
        Ok(Status::Complete(f)) => f,
        Ok(Status::Incomplete(n)) => {
            assert!(
                (wire.len() as u128) < total,
                "complete input reported incomplete"
            );
            assert_eq!(
                wire.len() as u128 + n as u128,
                total,
                "payload count not exact"
            );
            return;
        }
        Err(e) => panic!("header decoded, frame failed: {e:?}"),
    };
    assert_eq!(used as u128, total);
    assert!(used <= wire.len(), "frame longer than the input");
    assert_eq!(frame.header, header);
    assert_eq!(frame.encoded_len(), used);
    let mut payload = wire[header_len..used].to_vec();
    if let Some(key) = header.mask {
        apply_mask_scalar(&mut payload, key, 0);
    }
    assert_eq!(frame.payload, &payload[..], "unmasked payload");

    let mut again = Vec::new();
    frame.encode_to_vec(&mut again);
    assert_eq!(again, &wire[..used], "frame re-encode (vec)");
    let mut slice = alloc::vec![0u8; used + 1];
    assert_eq!(frame.encode_to_slice(&mut slice), Ok(used));
    assert_eq!(&slice[..used], &wire[..used], "frame re-encode (slice)");
    if used > 0 {
        assert!(frame.encode_to_slice(&mut slice[..used - 1]).is_err());
    }
}
