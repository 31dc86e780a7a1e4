//! The receiving side of permessage-deflate (RFC 7692) in the connection:
//! a message that arrives with RSV1 is inflated into the assembly buffer
//! as its bytes arrive, under the message size limit, and its text is
//! checked as UTF-8 as it comes out. Without the `deflate` feature no frame
//! carries RSV1 past the decoder and none of this runs.

use super::{MessageKind, Ready, Receiver};
use crate::error::ProtocolError;
#[cfg(feature = "deflate")]
use crate::{connection::Delivery, deflate::InflateError, utf8::Utf8Validator};

#[cfg(feature = "deflate")]
impl From<InflateError> for ProtocolError {
    fn from(e: InflateError) -> Self {
        match e {
            InflateError::InvalidData => ProtocolError::InvalidCompressedData,
            InflateError::TooLarge => ProtocolError::MessageTooLarge,
            InflateError::Engine => ProtocolError::DecompressionFailed,
        }
    }
}

impl Receiver {
    /// A compressed message starts.
    pub(super) fn begin_inflate(&mut self) {
        self.inflated_before = 0;
        #[cfg(feature = "deflate")]
        if let Some(d) = &mut self.inflate {
            d.begin();
        }
    }

    /// The most bytes the assembly buffer may hold now: the message limit,
    /// less what earlier fragments delivered.
    #[cfg(feature = "deflate")]
    fn inflate_limit(&self) -> usize {
        usize::try_from(self.config.limits.max_message_size)
            .unwrap_or(usize::MAX)
            .saturating_sub(self.inflated_before)
    }

    /// Inflates `buf[from..to]`, the next unmasked bytes of a compressed
    /// frame (`whole`: all of a single-frame message), and checks the text
    /// it yields.
    pub(super) fn inflate_piece(
        &mut self,
        from: usize,
        to: usize,
        kind: Option<MessageKind>,
        whole: bool,
    ) -> Result<(), ProtocolError> {
        #[cfg(feature = "deflate")]
        {
            let max = self.inflate_limit();
            let Some(d) = &mut self.inflate else {
                return Err(ProtocolError::DecompressionFailed);
            };
            let old = self.assembly.len();
            if whole {
                d.inflate_whole(&self.buf[from..to], &mut self.assembly, max)?;
            } else {
                d.inflate(&self.buf[from..to], &mut self.assembly, max)?;
            }
            if kind == Some(MessageKind::Text) {
                self.utf8.feed(&self.assembly[old..])?;
            }
            Ok(())
        }
        #[cfg(not(feature = "deflate"))]
        {
            let _ = (from, to, kind, whole);
            Err(ProtocolError::DecompressionFailed)
        }
    }

    /// A compressed frame is complete: at the message's end, inflate the
    /// tail and finish the UTF-8 check; then deliver what the delivery
    /// mode asks for.
    pub(super) fn complete_inflated(
        &mut self,
        kind: MessageKind,
        fin: bool,
        single: bool,
        discard_data: bool,
    ) -> Result<Option<Ready>, ProtocolError> {
        #[cfg(feature = "deflate")]
        {
            let max = self.inflate_limit();
            let Some(d) = &mut self.inflate else {
                return Err(ProtocolError::DecompressionFailed);
            };
            if discard_data {
                if fin {
                    d.end_message();
                    self.utf8 = Utf8Validator::new();
                }
                return Ok(None);
            }
            if fin {
                let old = self.assembly.len();
                d.finish(&mut self.assembly, max)?;
                if kind == MessageKind::Text {
                    self.utf8.feed(&self.assembly[old..])?;
                    self.utf8.finish()?;
                }
            }
            if single || (fin && self.config.delivery == Delivery::Messages) {
                self.assembly_delivered = true;
                return Ok(Some(Ready::Inflated { kind }));
            }
            if self.config.delivery == Delivery::Frames {
                self.inflated_before = self.inflated_before.saturating_add(self.assembly.len());
                self.assembly_delivered = true;
                return Ok(Some(Ready::InflatedFragment { kind, fin }));
            }
            Ok(None)
        }
        #[cfg(not(feature = "deflate"))]
        {
            let _ = (kind, fin, single, discard_data);
            Err(ProtocolError::DecompressionFailed)
        }
    }
}
