//! brotli (RFC 7932) through the pure-Rust `brotli` crate, which builds for wasm32-wasip1.
//!
//! <https://www.rfc-editor.org/rfc/rfc7932>

use std::io::{self, Write};

use brotli::CompressorWriter;

use super::Encoder;

/// Bytes the encoder gathers before writing output.
const BUFFER_BYTES: usize = 4096;

/// A 256 KiB window (2^18), the default of Envoy's brotli compressor: it bounds the memory
/// each response holds, at a small cost in ratio on very large bodies.
const WINDOW_BITS: u32 = 18;

pub struct BrotliEncoder {
    inner: CompressorWriter<Vec<u8>>,
}

impl BrotliEncoder {
    /// `quality` is 0 (fastest) to 11 (smallest); the configuration keeps it in range.
    pub fn new(quality: u32) -> BrotliEncoder {
        BrotliEncoder {
            inner: CompressorWriter::new(Vec::new(), BUFFER_BYTES, quality.min(11), WINDOW_BITS),
        }
    }
}

impl Encoder for BrotliEncoder {
    fn encode(&mut self, input: &[u8]) -> io::Result<Vec<u8>> {
        self.inner.write_all(input)?;
        self.inner.flush()?;
        Ok(std::mem::take(self.inner.get_mut()))
    }

    fn finish(self: Box<Self>) -> io::Result<Vec<u8>> {
        Ok(self.inner.into_inner())
    }
}
