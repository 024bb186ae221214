//! The per-request state machine. It reads what Envoy hands it, asks the plain-Rust modules
//! what to do, and applies their answer. Every host call of a request lives here.

use std::io;
use std::rc::Rc;
use std::time::SystemTime;

use log::{debug, warn};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::compress::eligibility::{decide, Decision, RequestFacts, ResponseFacts};
use crate::compress::headers::{edits_for, HeaderEdit};
use crate::compress::negotiate::negotiate;
use crate::compress::{level_for, new_encoder, Encoder};
use crate::favicon::{favicon_reply, is_favicon_request};
use crate::http::list::list_contains;
use crate::local_reply::LocalReply;
use crate::metrics::{status_class_metric, Metric};
use crate::root::Shared;

/// Where a request is in its one-way trip through the filter.
enum Phase {
    /// Request headers not seen yet.
    Deciding,
    /// The filter answered from the request phase. Envoy runs this filter's response
    /// callbacks for that reply too; they must leave it alone.
    AnsweredLocally,
    /// The request went upstream; what it said about codings waits for the response headers.
    Forwarded(RequestFacts),
    /// The response body streams through an encoder, chunk by chunk.
    Compressing(Box<dyn Encoder>),
    /// The encoder failed mid-body. The rest of the body is dropped, so the client's decoder
    /// reports a truncated stream rather than reading raw bytes as compressed ones.
    Discarding,
    /// The response passes through unchanged (headers aside).
    PassingThrough,
}

pub struct EdgeFilter {
    context_id: u32,
    shared: Rc<Shared>,
    phase: Phase,
    started_at: Option<SystemTime>,
}

impl EdgeFilter {
    pub fn new(context_id: u32, shared: Rc<Shared>) -> Self {
        EdgeFilter {
            context_id,
            shared,
            phase: Phase::Deciding,
            started_at: None,
        }
    }

    /// A request header as text. Bytes that are not UTF-8 become U+FFFD: the filter only
    /// parses tokens from headers, and the SDK's text getter would panic on them.
    fn request_header(&self, name: &str) -> Option<String> {
        self.get_http_request_header_bytes(name)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    fn response_header(&self, name: &str) -> Option<String> {
        self.get_http_response_header_bytes(name)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Every line of a request header, as text (see [`Self::request_header`]).
    fn request_header_lines(&self, name: &str) -> Vec<String> {
        self.get_http_request_headers_bytes()
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, bytes)| String::from_utf8_lossy(&bytes).into_owned())
            .collect()
    }

    /// Every response header line, values as text.
    fn response_header_list(&self) -> Vec<(String, String)> {
        self.get_http_response_headers_bytes()
            .into_iter()
            .map(|(name, bytes)| (name, String::from_utf8_lossy(&bytes).into_owned()))
            .collect()
    }

    /// What the request says about codings, read while its headers are at hand.
    fn request_facts(&self, method: &str) -> RequestFacts {
        let compression = &self.shared.config.compression;
        let accept_encoding = self.request_header_lines("accept-encoding");
        let negotiated = if compression.enabled {
            negotiate(
                accept_encoding.iter().map(String::as_str),
                &compression.encodings,
            )
        } else {
            None
        };
        let te = self.request_header_lines("te");
        RequestFacts {
            negotiated,
            is_head: method.eq_ignore_ascii_case("HEAD"),
            accepts_trailers: list_contains(te.iter().map(String::as_str), "trailers"),
        }
    }

    /// Decides compression from the response headers, applies the header changes and
    /// returns the phase the body goes through.
    fn start_response(&self, request: &RequestFacts, end_of_stream: bool) -> Phase {
        let compression = &self.shared.config.compression;
        let response = ResponseFacts::from_headers(&self.response_header_list(), end_of_stream);
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
                Phase::Compressing(new_encoder(encoding, level_for(compression, encoding)))
            }
            Decision::Identity(skip) | Decision::Untouched(skip) => {
                debug!("#{} compression skipped: {skip:?}", self.context_id);
                Phase::PassingThrough
            }
        }
    }

    /// Runs one body chunk through the encoder, finishing it at the end of the stream.
    fn encode_chunk(&mut self, input: &[u8], end_of_stream: bool) -> io::Result<Vec<u8>> {
        let Phase::Compressing(encoder) = &mut self.phase else {
            return Ok(Vec::new());
        };
        let mut output = encoder.encode(input)?;
        if end_of_stream {
            if let Phase::Compressing(encoder) =
                std::mem::replace(&mut self.phase, Phase::PassingThrough)
            {
                output.extend(encoder.finish()?);
            }
        }
        Ok(output)
    }

    /// Sends `reply` and stops the request: nothing goes upstream. This must be the last
    /// host call of the callback, which then returns `Action::Pause`.
    fn answer_locally(&mut self, reply: &LocalReply) -> Action {
        let headers = reply
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.phase = Phase::AnsweredLocally;
        self.send_http_response(reply.status, headers, Some(&reply.body));
        Action::Pause
    }
}

/// A byte count as a metric increment.
fn byte_count(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

impl Context for EdgeFilter {}

impl HttpContext for EdgeFilter {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.started_at = Some(self.get_current_time());
        self.shared.metrics.increment(Metric::HttpRequests);

        let method = self.request_header(":method").unwrap_or_default();
        let path = self.request_header(":path").unwrap_or_default();

        if is_favicon_request(&self.shared.config.favicon, &method, &path) {
            debug!("#{} favicon answered locally", self.context_id);
            self.shared.metrics.increment(Metric::FaviconResponses);
            let reply = favicon_reply(&self.shared.config.favicon);
            return self.answer_locally(&reply);
        }

        self.phase = Phase::Forwarded(self.request_facts(&method));
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let status = self
            .response_header(":status")
            .and_then(|s| s.parse::<u32>().ok());
        match status.and_then(status_class_metric) {
            Some(metric) => self.shared.metrics.increment(metric),
            None => warn!("#{} response without a valid :status", self.context_id),
        }

        // Local replies, and anything not forwarded, keep their headers as they are.
        if let Phase::Forwarded(request) = self.phase {
            self.phase = self.start_response(&request, end_of_stream);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match self.phase {
            Phase::Compressing(_) => {}
            Phase::Discarding => {
                self.set_http_response_body(0, body_size, &[]);
                return Action::Continue;
            }
            _ => return Action::Continue,
        }

        let input = self
            .get_http_response_body(0, body_size)
            .unwrap_or_default();
        match self.encode_chunk(&input, end_of_stream) {
            Ok(output) => {
                self.set_http_response_body(0, body_size, &output);
                let metrics = &self.shared.metrics;
                metrics.add(Metric::CompressionBytesIn, byte_count(input.len()));
                metrics.add(Metric::CompressionBytesOut, byte_count(output.len()));
            }
            Err(e) => {
                warn!(
                    "#{} encoder failed, dropping the rest of the body: {e}",
                    self.context_id
                );
                self.phase = Phase::Discarding;
                self.set_http_response_body(0, body_size, &[]);
            }
        }
        Action::Continue
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        // TODO: finish the encoder here once the host lets a filter add body bytes from the
        // trailers callback; until then responses that may end with trailers stay identity,
        // and only an upstream that sends trailers nobody announced gets here.
        if matches!(self.phase, Phase::Compressing(_)) {
            warn!(
                "#{} unannounced trailers ended a compressed body; the client gets it truncated",
                self.context_id
            );
            self.phase = Phase::PassingThrough;
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        let Some(started_at) = self.started_at else {
            return;
        };
        let elapsed = self
            .get_current_time()
            .duration_since(started_at)
            .unwrap_or_default();
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.shared.metrics.record(Metric::RequestDuration, micros);
    }
}
