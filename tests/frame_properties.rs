//! Property tests of the frame codec and masking: equivalences that must hold
//! for every input, not just the vectors.
//!
//! - encode then decode gives back any header and payload;
//! - frames fed in arbitrary chunks decode as when fed at once;
//! - the fast mask equals the scalar one, in any pieces; masking twice is
//!   the identity;
//! - arbitrary bytes never panic the decoders, lengths they report stay
//!   within the input, and every frame they accept re-encodes to its bytes.

use proptest::prelude::*;
use rfc6455::frame::{
    decode_frame, DecodeRules, Frame, FrameHeader, OpCode, Role, Status, MAX_HEADER_LEN, RSV1,
    RSV2, RSV3,
};
use rfc6455::mask::{apply_mask, apply_mask_scalar};

const ALL_RSV: u8 = RSV1 | RSV2 | RSV3;

/// Rules that accept every valid frame: all RSV bits, no size limit.
fn permissive(role: Role) -> DecodeRules {
    DecodeRules {
        role,
        allowed_rsv: ALL_RSV,
        max_frame_size: u64::MAX,
    }
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

/// Payload lengths, weighted towards the encoding boundaries.
fn payload_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..=20,
        2 => 120usize..=131,
        2 => 65_530usize..=65_541,
        1 => 0usize..=70_000,
    ]
}

/// A payload of `len` bytes, cheap to make at any length.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// Bytes to mask: short pieces, and pieces past the length from which the
/// fast path aligns its blocks (4 KiB).
fn mask_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..600),
        1 => proptest::collection::vec(any::<u8>(), 4000..4300),
    ]
}

fn data_opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary)
    ]
}

fn control_opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![Just(OpCode::Close), Just(OpCode::Ping), Just(OpCode::Pong)]
}

/// A valid frame for a receiver in `role`, as (header, payload).
fn valid_frame(
    role: Role,
    len: BoxedStrategy<usize>,
) -> impl Strategy<Value = (FrameHeader, Vec<u8>)> {
    let shape = prop_oneof![
        3 => (data_opcode(), any::<bool>(), len),
        1 => (control_opcode(), Just(true), 0usize..=125),
    ];
    (shape, any::<[bool; 3]>(), any::<[u8; 4]>(), any::<u8>()).prop_map(
        move |((opcode, fin, len), [rsv1, rsv2, rsv3], key, seed)| {
            let header = FrameHeader {
                fin,
                rsv1,
                rsv2,
                rsv3,
                opcode,
                mask: (role == Role::Server).then_some(key),
                payload_len: len as u64,
            };
            (header, payload(len, seed))
        },
    )
}

fn encode(header: &FrameHeader, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Frame {
        header: *header,
        payload,
    }
    .encode_to_vec(&mut out);
    out
}

/// An owned copy of a decoded frame.
type Owned = (FrameHeader, Vec<u8>);

/// Decodes every whole frame at the front of `buf`, then drops them from it.
/// Checks, for each frame, that the sizes the decoder asked for while it
/// waited (`asked`: buffer length plus bytes missing) were lower bounds.
fn drain_frames(buf: &mut Vec<u8>, rules: &DecodeRules, asked: &mut usize, out: &mut Vec<Owned>) {
    let mut start = 0;
    loop {
        match decode_frame(&mut buf[start..], rules) {
            Ok(Status::Complete((frame, used))) => {
                assert!(used >= *asked, "asked for {asked} bytes, frame took {used}");
                *asked = 0;
                out.push((frame.header, frame.payload.to_vec()));
                start += used;
            }
            Ok(Status::Incomplete(n)) => {
                assert!(n > 0);
                *asked = buf.len() - start + n;
                break;
            }
            Err(e) => panic!("valid stream failed: {e:?}"),
        }
    }
    buf.drain(..start);
}

proptest! {
    #[test]
    fn encode_then_decode_gives_back_the_frame(
        (role, (header, payload)) in role().prop_flat_map(|r| (Just(r), valid_frame(r, payload_len().boxed()))),
        trailing in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut wire = encode(&header, &payload);
        let len = wire.len();
        prop_assert_eq!(len, header.encoded_len() + payload.len());
        wire.extend_from_slice(&trailing);
        let rules = permissive(role);

        prop_assert_eq!(
            FrameHeader::decode(&wire, &rules),
            Ok(Status::Complete((header, header.encoded_len())))
        );
        match decode_frame(&mut wire, &rules) {
            Ok(Status::Complete((frame, used))) => {
                prop_assert_eq!(frame.header, header);
                prop_assert_eq!(frame.payload, &payload[..]);
                prop_assert_eq!(used, len);
            }
            other => prop_assert!(false, "decode_frame gave {:?}", other),
        }
    }

    #[test]
    fn any_header_round_trips(
        role in role(),
        fin in any::<bool>(),
        rsv in any::<[bool; 3]>(),
        opcode in data_opcode(),
        key in any::<[u8; 4]>(),
        payload_len in prop_oneof![
            Just(0u64), Just(125), Just(126), Just(65_535), Just(65_536),
            Just(u64::from(u32::MAX)), Just(1 << 32), Just((1 << 63) - 1),
            0u64..(1 << 63),
        ],
    ) {
        let header = FrameHeader {
            fin,
            rsv1: rsv[0],
            rsv2: rsv[1],
            rsv3: rsv[2],
            opcode,
            mask: (role == Role::Server).then_some(key),
            payload_len,
        };
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut out);
        prop_assert_eq!(n, header.encoded_len());
        let bytes = header.to_bytes();
        prop_assert_eq!(bytes.as_bytes(), &out[..n]);
        prop_assert_eq!(
            FrameHeader::decode(&out[..n], &permissive(role)),
            Ok(Status::Complete((header, n)))
        );
        // Every shorter prefix is incomplete, and says so with a count that
        // does not overshoot the header.
        for cut in 0..n {
            match FrameHeader::decode(&out[..cut], &permissive(role)) {
                Ok(Status::Incomplete(missing)) => prop_assert!(missing > 0 && cut + missing <= n),
                other => prop_assert!(false, "prefix {} gave {:?}", cut, other),
            }
        }
    }

    #[test]
    fn chunked_feeding_equals_feeding_at_once(
        (role, frames) in role().prop_flat_map(|r| {
            let len = prop_oneof![4 => 0usize..=140, 1 => 65_530usize..=65_540].boxed();
            (Just(r), proptest::collection::vec(valid_frame(r, len), 1..6))
        }),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let rules = permissive(role);
        let wire: Vec<u8> = frames.iter().flat_map(|(h, p)| encode(h, p)).collect();

        // All at once.
        let mut whole = wire.clone();
        let mut at_once = Vec::new();
        let mut asked = 0;
        drain_frames(&mut whole, &rules, &mut asked, &mut at_once);
        prop_assert!(whole.is_empty());
        prop_assert_eq!(&at_once, &frames);

        // In chunks split at arbitrary points.
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(0);
        points.push(wire.len());
        points.sort_unstable();
        let mut buf = Vec::new();
        let mut chunked = Vec::new();
        let mut asked = 0;
        for pair in points.windows(2) {
            buf.extend_from_slice(&wire[pair[0]..pair[1]]);
            drain_frames(&mut buf, &rules, &mut asked, &mut chunked);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(chunked, at_once);
    }

    #[test]
    fn masking_twice_is_the_identity(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 4]>(),
        offset in any::<usize>(),
    ) {
        let mut buf = data.clone();
        apply_mask(&mut buf, key, offset);
        apply_mask(&mut buf, key, offset);
        prop_assert_eq!(buf, data);
    }

    #[test]
    fn fast_mask_equals_scalar(
        data in mask_input(),
        shift in 0usize..64,
        key in any::<[u8; 4]>(),
        offset in prop_oneof![0usize..8, any::<usize>()],
    ) {
        // `shift` moves the piece off the buffer's alignment, as a header in
        // front of a payload does.
        let shift = shift.min(data.len());
        let mut fast = data.clone();
        let mut slow = data;
        apply_mask(&mut fast[shift..], key, offset);
        apply_mask_scalar(&mut slow[shift..], key, offset);
        prop_assert_eq!(fast, slow);
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once(
        data in mask_input(),
        key in any::<[u8; 4]>(),
        start in prop_oneof![0usize..8, any::<usize>()],
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut whole = data.clone();
        apply_mask_scalar(&mut whole, key, start);

        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        points.push(0);
        points.push(data.len());
        points.sort_unstable();
        let mut pieces = data;
        for pair in points.windows(2) {
            // The offset of each piece is its position in the payload.
            apply_mask(&mut pieces[pair[0]..pair[1]], key, start.wrapping_add(pair[0]));
        }
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_frames_re_encode(
        input in prop_oneof![
            // Anything at all.
            proptest::collection::vec(any::<u8>(), 0..40),
            // A plausible first byte, then anything: reaches the length and
            // mask rules far more often.
            (
                prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8a, 0xc1]),
                proptest::collection::vec(any::<u8>(), 0..300),
            ).prop_map(|(b0, rest)| [vec![b0], rest].concat()),
        ],
        role in role(),
        allowed_rsv in (0u8..8).prop_map(|b| b << 4),
        max_frame_size in prop_oneof![Just(u64::MAX), Just(0), Just(125), any::<u64>()],
    ) {
        let rules = DecodeRules { role, allowed_rsv, max_frame_size };
        let header = FrameHeader::decode(&input, &rules);
        let mut buf = input.clone();
        let frame = decode_frame(&mut buf, &rules);

        match (header, frame) {
            (Ok(Status::Complete((h, header_len))), Ok(Status::Complete((f, used)))) => {
                prop_assert!(header_len <= used && used <= input.len());
                prop_assert_eq!(f.header, h);
                prop_assert_eq!(used as u64, header_len as u64 + h.payload_len);
                prop_assert!(h.payload_len <= max_frame_size);
                // Minimal lengths only: an accepted frame re-encodes to the
                // exact bytes it came from.
                prop_assert_eq!(encode(&f.header, f.payload), &input[..used]);
            }
            (Ok(Status::Complete((h, header_len))), Ok(Status::Incomplete(n))) => {
                prop_assert!(header_len <= input.len());
                prop_assert_eq!((input.len() + n) as u64, header_len as u64 + h.payload_len);
            }
            (Ok(Status::Incomplete(a)), Ok(Status::Incomplete(b))) => {
                prop_assert!(a > 0);
                prop_assert_eq!(a, b);
                prop_assert!(input.len() + a <= MAX_HEADER_LEN);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            other => prop_assert!(false, "the decoders disagree: {:?}", other),
        }
    }
}
