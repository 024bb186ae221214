//! The per-request state machine. It reads what Envoy hands it, asks the plain-Rust modules
//! what to do, and applies their answer. Every host call of a request lives here and in
//! `filter/`, which holds the cache steps of the same machine.

mod caching;
mod health;
mod query_cache;

use std::rc::Rc;
use std::time::SystemTime;

use log::{debug, warn};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::favicon::{favicon_reply, is_favicon_request};
use crate::local_reply::LocalReply;
use crate::metrics::{status_class_metric, Metric};
use crate::root::Shared;

use caching::{Capture, Forwarded};

/// Where a request is in its one-way trip through the filter:
/// `Deciding` → `AnsweredLocally` | `PassingThrough` | `Forwarded` → `Capturing` →
/// `PassingThrough`.
#[derive(Debug)]
enum Phase {
    /// Request headers not seen yet.
    Deciding,
    /// The filter answered from the request phase. Envoy runs this filter's response
    /// callbacks for that reply too; they must leave it alone.
    AnsweredLocally,
    /// The request went upstream and its response passes through unchanged.
    PassingThrough,
    /// A health probe or cache miss went upstream; its response may be stored.
    Forwarded(Forwarded),
    /// The response is being stored: its body is copied as it streams past.
    Capturing(Capture),
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

        let method = self.request_header(":method").unwrap_or_default();
        let path = self.request_header(":path").unwrap_or_default();

        if is_favicon_request(&self.shared.config.favicon, &method, &path) {
            debug!("#{} favicon answered locally", self.context_id);
            self.shared.metrics.increment(Metric::FaviconResponses);
            let reply = favicon_reply(&self.shared.config.favicon);
            return self.answer_locally(&reply);
        }

        if let Some(action) = self.try_cache_request() {
            return action;
        }

        self.phase = Phase::PassingThrough;
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

        // The cache snapshots the upstream's headers before anything else changes them.
        self.phase = match self.take_phase() {
            Phase::Forwarded(forwarded) => {
                self.cache_response_headers(forwarded, status, end_of_stream)
            }
            other => other,
        };

        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        // The cache copies the chunk as the upstream sent it, before any re-encoding.
        self.phase = match self.take_phase() {
            Phase::Capturing(capture) => {
                self.cache_response_body(capture, body_size, end_of_stream)
            }
            other => other,
        };

        Action::Continue
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.phase = match self.take_phase() {
            Phase::Capturing(capture) => {
                self.give_up_capture(capture, "trailers are not stored");
                Phase::PassingThrough
            }
            other => other,
        };
        Action::Continue
    }

    fn on_log(&mut self) {
        self.phase = match self.take_phase() {
            Phase::Forwarded(forwarded) => {
                self.release(&forwarded.target);
                Phase::PassingThrough
            }
            Phase::Capturing(capture) => {
                self.give_up_capture(capture, "response not complete");
                Phase::PassingThrough
            }
            other => other,
        };

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
