//! Response compression: choosing a coding for a request, deciding from the response
//! headers whether to use it, the header changes that go with it, and the streaming encoders.
//!
//! Every coding is one file behind [`Encoder`]; adding a third is a new file, a variant of
//! [`Encoding`] and a line in [`new_encoder`]. Nothing here calls the host.

pub mod brotli;
pub mod eligibility;
pub mod gzip;
pub mod headers;
pub mod negotiate;

use std::io;

use crate::config::{CompressionConfig, Encoding};

/// A streaming encoder for one response body. Memory stays bounded by the coding's window
/// and buffers, whatever the length of the body.
pub trait Encoder {
    /// Compresses the next piece of the body and returns all of its output: each piece is
    /// flushed (a sync flush), so what the upstream sent reaches the client now, and a body
    /// cut short (by trailers nobody announced, or a reset) has lost none of its content.
    fn encode(&mut self, input: &[u8]) -> io::Result<Vec<u8>>;

    /// Ends the body: returns the rest of the output, the coding's trailer included.
    fn finish(self: Box<Self>) -> io::Result<Vec<u8>>;
}

/// The configured effort for `encoding`: the gzip level or the brotli quality.
pub fn level_for(config: &CompressionConfig, encoding: Encoding) -> u32 {
    match encoding {
        Encoding::Gzip => config.gzip_level,
        Encoding::Brotli => config.brotli_quality,
    }
}

/// A new streaming encoder for `encoding` at `level` (see [`level_for`]).
pub fn new_encoder(encoding: Encoding, level: u32) -> Box<dyn Encoder> {
    match encoding {
        Encoding::Gzip => Box::new(gzip::GzipEncoder::new(level)),
        Encoding::Brotli => Box::new(brotli::BrotliEncoder::new(level)),
    }
}

/// Compresses a whole body at once, for bodies already in memory (a cache hit).
pub fn compress_body(encoding: Encoding, level: u32, body: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = new_encoder(encoding, level);
    let mut out = encoder.encode(body)?;
    out.extend(encoder.finish()?);
    Ok(out)
}

#[cfg(test)]
mod tests;
