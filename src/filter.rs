//! The per-request state machine. It reads what Envoy hands it, asks the plain-Rust modules
//! what to do, and applies their answer. Every host call of a request lives here and in
//! `filter/`, which holds the cache and compression steps of the same machine.

mod caching;
mod compression;
mod health;
mod query_cache;

use std::rc::Rc;
use std::time::SystemTime;

use log::{debug, warn};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::compress::eligibility::RequestFacts;
use crate::compress::Encoder;
use crate::favicon::{favicon_reply, is_favicon_request};
use crate::http::header_map::HeaderMap;
use crate::local_reply::LocalReply;
use crate::metrics::{status_class_metric, Metric};
use crate::root::Shared;

use caching::{Capture, Forwarded};

/// Where a request is in its one-way trip through the filter:
/// `Deciding` → `AnsweredLocally` | `Forwarded` → `Streaming` | `PassingThrough`, and
/// `Streaming` → `PassingThrough` | `Discarding`.
enum Phase {
    /// Request headers not seen yet.
    Deciding,
    /// The filter answered from the request phase. Envoy runs this filter's response
    /// callbacks for that reply too; they must leave it alone.
    AnsweredLocally,
    /// The request goes upstream. `coding` is what it said about content codings (None for
    /// health probes, which are never compressed); `cache` is where its answer may be stored.
    Forwarded {
        coding: Option<RequestFacts>,
        cache: Option<Forwarded>,
    },
    /// The response body streams past: copied for a cache, run through an encoder, or both.
    Streaming {
        capture: Option<Capture>,
        encoder: Option<Box<dyn Encoder>>,
    },
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

    /// Moves the phase out so a step can consume it; the caller puts the next one back.
    fn take_phase(&mut self) -> Phase {
        std::mem::replace(&mut self.phase, Phase::PassingThrough)
    }

    /// Sends `reply` and stops the request: nothing goes upstream. This must be the last
    /// host call of the callback, which then returns `Action::Pause`.
    fn answer_locally(&mut self, reply: &LocalReply) -> Action {
        self.send_local_reply(reply.status, &reply.headers, &reply.body)
    }

    fn send_local_reply(
        &mut self,
        status: u32,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Action {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = (!body.is_empty()).then_some(body);
        self.phase = Phase::AnsweredLocally;
        self.send_http_response(status, headers, body);
        Action::Pause
    }
}

impl Context for EdgeFilter {}

impl HttpContext for EdgeFilter {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.started_at = Some(self.get_current_time());
        self.shared.metrics.increment(Metric::HttpRequests);

        // Every request header in one host call; each step below reads from this copy.
        let request = HeaderMap::new(self.get_http_request_headers_bytes());
        let method_bytes = request.get(":method").unwrap_or_default().to_vec();
        let path_bytes = request.get(":path").unwrap_or_default().to_vec();
        let method = String::from_utf8_lossy(&method_bytes).into_owned();
        let path = String::from_utf8_lossy(&path_bytes).into_owned();

        if is_favicon_request(&self.shared.config.favicon, &method, &path) {
            debug!("#{} favicon answered locally", self.context_id);
            self.shared.metrics.increment(Metric::FaviconResponses);
            let reply = favicon_reply(&self.shared.config.favicon);
            return self.answer_locally(&reply);
        }

        // Read while the request headers are at hand: Envoy refuses them in response
        // callbacks. A cache step may then answer, or attach where to store the answer.
        self.phase = Phase::Forwarded {
            coding: Some(self.coding_facts(&request, &method)),
            cache: None,
        };
        // The caches key on the path's raw bytes, never on its lossy text.
        self.try_cache_request(request, &method_bytes, &path_bytes)
            .unwrap_or(Action::Continue)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        // A forwarded response is read whole, in one host call; others need only the status.
        let forwarded = matches!(self.phase, Phase::Forwarded { .. });
        let response = if forwarded {
            HeaderMap::new(self.get_http_response_headers_bytes())
        } else {
            HeaderMap::new(
                self.get_http_response_header_bytes(":status")
                    .map(|status| vec![(":status".to_string(), status)])
                    .unwrap_or_default(),
            )
        };
        let status = response.text(":status").and_then(|s| s.parse::<u32>().ok());
        match status.and_then(status_class_metric) {
            Some(metric) => self.shared.metrics.increment(metric),
            None => warn!("#{} response without a valid :status", self.context_id),
        }

        // Local replies, and anything not forwarded, keep their headers as they are. The
        // cache snapshots the upstream's headers before compression changes them.
        self.phase = match self.take_phase() {
            Phase::Forwarded { coding, cache } => {
                let capture = cache
                    .and_then(|f| self.cache_response_headers(f, status, &response, end_of_stream));
                let encoder =
                    coding.and_then(|c| self.start_compression(&c, &response, end_of_stream));
                match (capture, encoder) {
                    (None, None) => Phase::PassingThrough,
                    (capture, encoder) => Phase::Streaming { capture, encoder },
                }
            }
            other => other,
        };
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.phase = match self.take_phase() {
            Phase::Streaming { capture, encoder } => {
                let chunk = self
                    .get_http_response_body(0, body_size)
                    .unwrap_or_default();

                // The cache copies the chunk as the upstream sent it, before re-encoding.
                let capture = capture
                    .and_then(|c| self.cache_response_body(c, &chunk, body_size, end_of_stream));
                match encoder {
                    Some(encoder) => {
                        match self.compress_chunk(encoder, &chunk, body_size, end_of_stream) {
                            Ok(encoder) => Phase::streaming(capture, encoder),
                            Err(()) => {
                                if let Some(capture) = capture {
                                    self.give_up_capture(capture, "the encoder failed");
                                }
                                Phase::Discarding
                            }
                        }
                    }
                    None => Phase::streaming(capture, None),
                }
            }
            Phase::Discarding => {
                self.set_http_response_body(0, body_size, &[]);
                Phase::Discarding
            }
            other => other,
        };
        Action::Continue
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.phase = match self.take_phase() {
            Phase::Streaming { capture, encoder } => {
                if let Some(capture) = capture {
                    self.give_up_capture(capture, "trailers are not stored");
                }
                // TODO: finish the encoder here once the host lets a filter add body bytes
                // from the trailers callback; until then responses that may end with
                // trailers stay identity, and only trailers nobody announced get here.
                if encoder.is_some() {
                    warn!(
                        "#{} unannounced trailers ended a compressed body; the client gets it \
                         truncated",
                        self.context_id
                    );
                }
                Phase::PassingThrough
            }
            other => other,
        };
        Action::Continue
    }

    fn on_log(&mut self) {
        match self.take_phase() {
            Phase::Forwarded {
                cache: Some(forwarded),
                ..
            } => self.release(&forwarded.target),
            Phase::Streaming {
                capture: Some(capture),
                ..
            } => self.give_up_capture(capture, "response not complete"),
            _ => {}
        }

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

impl Phase {
    /// The streaming phase, or passing through once neither a capture nor an encoder is left.
    fn streaming(capture: Option<Capture>, encoder: Option<Box<dyn Encoder>>) -> Phase {
        match (capture, encoder) {
            (None, None) => Phase::PassingThrough,
            (capture, encoder) => Phase::Streaming { capture, encoder },
        }
    }
}
