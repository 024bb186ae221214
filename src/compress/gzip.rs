//! gzip (RFC 1952): a raw deflate stream from flate2's zlib-rs backend (pure Rust, builds for
//! wasm) inside the gzip header and trailer written here.
//!
//! The deflate window is 4 KiB (`window_bits` 12), as in Envoy's own compressor by default:
//! it bounds the memory each compressed response holds, and on typical API bodies zlib-rs
//! compresses as well with it as with the 32 KiB window.
//!
//! <https://www.rfc-editor.org/rfc/rfc1952>

use std::io;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::Encoder;

const WINDOW_BITS: u8 = 12;

/// ID1 ID2, CM = deflate, no flags, no modification time, no extra flags, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

pub struct GzipEncoder {
    deflate: Compress,
    crc: Crc,
    header_sent: bool,
}

impl GzipEncoder {
    /// `level` is zlib's 1 (fastest) to 9 (smallest); the configuration keeps it in range.
    pub fn new(level: u32) -> GzipEncoder {
        GzipEncoder {
            deflate: Compress::new_with_window_bits(
                Compression::new(level.clamp(1, 9)),
                false,
                WINDOW_BITS,
            ),
            crc: Crc::new(),
            header_sent: false,
        }
    }

    /// Runs `input` through deflate with `flush`, appending everything produced to `out`:
    /// with `Sync` until deflate has taken all the input and emitted all of it, with
    /// `Finish` until the stream has ended.
    fn deflate(
        &mut self,
        mut input: &[u8],
        flush: FlushCompress,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(input.len() / 2 + 4096);
            }
            let taken_before = self.deflate.total_in();
            let made_before = self.deflate.total_out();
            let status = self
                .deflate
                .compress_vec(input, out, flush)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let taken = usize::try_from(self.deflate.total_in() - taken_before).unwrap_or(0);
            let made = self.deflate.total_out() - made_before;
            input = input.get(taken..).unwrap_or_default();

            match status {
                Status::StreamEnd => return Ok(()),
                _ if flush != FlushCompress::Finish
                    && input.is_empty()
                    && out.len() < out.capacity() =>
                {
                    return Ok(())
                }
                Status::BufError if taken == 0 && made == 0 => {
                    return Err(io::Error::other("deflate made no progress"))
                }
                _ => {}
            }
        }
    }

    fn take_header(&mut self) -> Vec<u8> {
        if self.header_sent {
            return Vec::new();
        }
        self.header_sent = true;
        HEADER.to_vec()
    }
}

impl Encoder for GzipEncoder {
    fn encode(&mut self, input: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = self.take_header();
        self.crc.update(input);
        self.deflate(input, FlushCompress::Sync, &mut out)?;
        Ok(out)
    }

    fn finish(mut self: Box<Self>) -> io::Result<Vec<u8>> {
        let mut out = self.take_header();
        self.deflate(&[], FlushCompress::Finish, &mut out)?;
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        Ok(out)
    }
}
