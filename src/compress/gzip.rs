//! gzip (RFC 1952) through flate2, whose zlib-rs backend is pure Rust and builds for wasm.
//!
//! <https://www.rfc-editor.org/rfc/rfc1952>

use std::io::{self, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::Encoder;

pub struct GzipEncoder {
    inner: GzEncoder<Vec<u8>>,
}

impl GzipEncoder {
    /// `level` is zlib's 1 (fastest) to 9 (smallest); the configuration keeps it in range.
    pub fn new(level: u32) -> GzipEncoder {
        GzipEncoder {
            inner: GzEncoder::new(Vec::new(), Compression::new(level.min(9))),
        }
    }
}

impl Encoder for GzipEncoder {
    fn encode(&mut self, input: &[u8]) -> io::Result<Vec<u8>> {
        self.inner.write_all(input)?;
        Ok(std::mem::take(self.inner.get_mut()))
    }

    fn finish(self: Box<Self>) -> io::Result<Vec<u8>> {
        self.inner.finish()
    }
}
