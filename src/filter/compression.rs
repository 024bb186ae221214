//! The compression steps of the request state machine: what the request says about
//! codings, the decision and header edits at response headers, each body chunk through the
//! encoder, and the compressed form of cache hits. Decisions come from `crate::compress`.

use std::rc::Rc;

use log::{debug, warn};
use proxy_wasm::traits::HttpContext;

use crate::cache::entry::{Hit, Variant};
use crate::compress::eligibility::{decide, Decision, RequestFacts, ResponseFacts};
use crate::compress::headers::{apply_to_header_list, edits_for, HeaderEdit};
use crate::compress::negotiate::negotiate;
use crate::compress::{compress_body, level_for, new_encoder, Encoder};
use crate::http::header_map::HeaderMap;
use crate::http::list::list_contains;
use crate::metrics::Metric;

use super::EdgeFilter;

/// A byte count as a metric increment.
fn byte_count(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

impl EdgeFilter {
    /// What the request says about codings, read while its headers are at hand.
    pub(super) fn coding_facts(&self, request: &HeaderMap, method: &str) -> RequestFacts {
        let compression = &self.shared.config.compression;
        let negotiated = if compression.enabled {
            let accept_encoding = request.lines("accept-encoding");
            negotiate(
                accept_encoding.iter().map(|l| l.as_ref()),
                &compression.encodings,
            )
        } else {
            None
        };
        let te = request.lines("te");
        RequestFacts {
            negotiated,
            is_head: method.eq_ignore_ascii_case("HEAD"),
            accepts_trailers: list_contains(te.iter().map(|l| l.as_ref()), "trailers"),
        }
    }

    /// Decides compression from the response headers and applies the header changes;
    /// returns the encoder the body goes through, if any.
    pub(super) fn start_compression(
        &self,
        request: &RequestFacts,
        headers: &HeaderMap,
        end_of_stream: bool,
    ) -> Option<Box<dyn Encoder>> {
        let compression = &self.shared.config.compression;
        let listed: Vec<(String, String)> = headers
            .fields()
            .iter()
            .map(|(name, value)| (name.clone(), String::from_utf8_lossy(value).into_owned()))
            .collect();
        let response = ResponseFacts::from_headers(&listed, end_of_stream);
        let decision = decide(compression, request, &response);

        for edit in edits_for(&decision, &response) {
            match edit {
                HeaderEdit::Set(name, value) => self.set_http_response_header(name, Some(&value)),
                HeaderEdit::Remove(name) => self.remove_http_response_header(name),
            }
        }

        match decision {
            Decision::Compress(encoding) => {
                debug!("#{} compression {}", self.context_id, encoding.token());
                self.shared.metrics.increment(Metric::CompressionResponses);
                Some(new_encoder(encoding, level_for(compression, encoding)))
            }
            Decision::Identity(skip) | Decision::Untouched(skip) => {
                debug!("#{} compression skipped: {skip:?}", self.context_id);
                None
            }
        }
    }

    /// Replaces one body chunk with the encoder's output, finishing it at the end of the
    /// stream. Returns the encoder while the body goes on; Err when it failed, after one
    /// warning and with this chunk dropped.
    pub(super) fn compress_chunk(
        &self,
        mut encoder: Box<dyn Encoder>,
        chunk: &[u8],
        body_size: usize,
        end_of_stream: bool,
    ) -> Result<Option<Box<dyn Encoder>>, ()> {
        let encoded = encoder.encode(chunk).and_then(|mut output| {
            if end_of_stream {
                output.extend(encoder.finish()?);
                return Ok((output, None));
            }
            Ok((output, Some(encoder)))
        });

        match encoded {
            Ok((output, encoder)) => {
                self.set_http_response_body(0, body_size, &output);
                let metrics = &self.shared.metrics;
                metrics.add(Metric::CompressionBytesIn, byte_count(chunk.len()));
                metrics.add(Metric::CompressionBytesOut, byte_count(output.len()));
                Ok(encoder)
            }
            Err(e) => {
                warn!(
                    "#{} encoder failed, dropping the rest of the body: {e}",
                    self.context_id
                );
                self.set_http_response_body(0, body_size, &[]);
                Err(())
            }
        }
    }

    /// A query-cache hit as this client should get it: the same decision and header edits
    /// as an upstream response, and for a compressed answer the entry's kept variant, made
    /// once and stored with the entry (counted in its bytes) so later hits reuse it.
    pub(super) fn compress_hit(&self, key: &[u8], mut hit: Hit, request: &RequestFacts) -> Hit {
        let compression = &self.shared.config.compression;
        let mut listed = hit.headers.clone();
        if hit.status == 304 {
            // A 304 stands for the full answer this client would get: it carries that
            // answer's ETag and Vary (RFC 9110 section 15.4.5), and nothing else changes.
            listed.push((":status".to_string(), "200".to_string()));
            if let Some(content_type) = &hit.content_type {
                listed.push(("content-type".to_string(), content_type.clone()));
            }
            let response = ResponseFacts::from_headers(&listed, false);
            let decision = decide(compression, request, &response);
            let edits: Vec<HeaderEdit> = edits_for(&decision, &response)
                .into_iter()
                .filter(|edit| matches!(edit, HeaderEdit::Set("etag" | "vary", _)))
                .collect();
            apply_to_header_list(&mut hit.headers, &edits);
            return hit;
        }
        listed.push((":status".to_string(), hit.status.to_string()));
        listed.push(("content-length".to_string(), hit.body.len().to_string()));
        let response = ResponseFacts::from_headers(&listed, hit.body.is_empty());
        let decision = decide(compression, request, &response);

        let Decision::Compress(encoding) = decision else {
            apply_to_header_list(&mut hit.headers, &edits_for(&decision, &response));
            return hit;
        };

        let Some(body) = self.compressed_variant(key, &hit.body, encoding) else {
            return hit;
        };
        apply_to_header_list(&mut hit.headers, &edits_for(&decision, &response));
        self.shared.metrics.increment(Metric::CompressionResponses);
        self.shared
            .metrics
            .add(Metric::CompressionBytesIn, byte_count(hit.body.len()));
        self.shared
            .metrics
            .add(Metric::CompressionBytesOut, byte_count(body.len()));
        hit.body = body;
        hit
    }

    /// The entry's body in `encoding`: the kept variant, or a new one made now and kept.
    fn compressed_variant(
        &self,
        key: &[u8],
        identity: &Rc<[u8]>,
        encoding: crate::config::Encoding,
    ) -> Option<Rc<[u8]>> {
        let coding = encoding.token();
        if let Ok(mut caches) = self.shared.caches.try_borrow_mut() {
            if let Some(entry) = caches.query.get_any(key) {
                if let Some(variant) = entry.variant(coding) {
                    return Some(Rc::clone(&variant.body));
                }
            }
        }

        let level = level_for(&self.shared.config.compression, encoding);
        let body: Rc<[u8]> = match compress_body(encoding, level, identity) {
            Ok(body) => Rc::from(body),
            Err(e) => {
                warn!(
                    "#{} encoder failed on a cache hit, serving identity: {e}",
                    self.context_id
                );
                return None;
            }
        };
        let variant = Variant {
            coding,
            body: Rc::clone(&body),
        };
        let change = match self.shared.caches.try_borrow_mut() {
            Ok(mut caches) => caches.query.add_variant(key, variant),
            Err(_) => Default::default(),
        };
        self.shared.record_query_change(change);
        Some(body)
    }
}
