//! Whether a response gets compressed, decided once from headers alone: Envoy delivers no
//! body to a filter that pauses its headers, so nothing here may wait for the body.
//!
//! Each rule is a named predicate; [`decide`] runs them in a fixed order and reports the
//! first that holds, so logs and tests say why a response stayed as it was.

use crate::config::{CompressionConfig, Encoding};
use crate::http::cache_control::CacheControl;
use crate::http::list::split_list;
use crate::http::media_type;

/// What the request phase learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts {
    /// The coding `Accept-Encoding` chose among the configured ones; None is identity.
    pub negotiated: Option<Encoding>,
    pub is_head: bool,
    /// The client sent `TE: trailers`: the response may end with trailer fields.
    pub accepts_trailers: bool,
}

/// The response headers that matter to compression, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFacts {
    pub status: u32,
    pub content_type: Option<String>,
    /// Every member of every `Content-Encoding` line, as written.
    pub content_encodings: Vec<String>,
    pub cache_control: CacheControl,
    /// None when absent or not a number: the length is then unknown.
    pub content_length: Option<u64>,
    pub has_content_range: bool,
    /// The upstream sent a `Trailer` header: fields will follow the body.
    pub announces_trailers: bool,
    pub etag: Option<String>,
    pub vary: Vec<String>,
    /// Envoy said end of stream with the headers: no body callback follows.
    pub ends_at_headers: bool,
}

impl ResponseFacts {
    /// Reads the facts from a header list (names in any case, `:status` included), the
    /// shape both the filter and a cached entry have.
    pub fn from_headers(headers: &[(String, String)], ends_at_headers: bool) -> ResponseFacts {
        let all = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let first = |name: &str| all(name).first().map(|v| v.trim().to_string());

        ResponseFacts {
            status: first(":status").and_then(|s| s.parse().ok()).unwrap_or(0),
            content_type: first("content-type"),
            content_encodings: all("content-encoding")
                .into_iter()
                .flat_map(split_list)
                .map(str::to_string)
                .collect(),
            cache_control: CacheControl::parse(all("cache-control")),
            content_length: first("content-length").and_then(|v| parse_length(&v)),
            has_content_range: !all("content-range").is_empty(),
            announces_trailers: !all("trailer").is_empty(),
            etag: first("etag"),
            vary: all("vary").into_iter().map(str::to_string).collect(),
            ends_at_headers,
        }
    }
}

/// Why a response stays as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Disabled,
    NoMediaType,
    MediaTypeNotListed,
    /// Streams whose value is in their timing (`text/event-stream`, gRPC): an encoder holds
    /// bytes back, which would delay every event.
    StreamingMediaType,
    StatusWithoutBody,
    Partial,
    HeadRequest,
    EndsAtHeaders,
    AlreadyEncoded,
    NoTransform,
    TooShort,
    Trailers,
    ClientWantsIdentity,
}

/// What happens to a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No client would get this response compressed: it passes exactly as it is.
    Untouched(Skip),
    /// Some client could get it compressed, this one does not: it passes with
    /// `Vary: Accept-Encoding`, so shared caches keep the variants apart.
    Identity(Skip),
    Compress(Encoding),
}

/// Everything a rule may look at.
pub struct Exchange<'a> {
    pub config: &'a CompressionConfig,
    pub request: &'a RequestFacts,
    pub response: &'a ResponseFacts,
}

/// Media types that are never compressed, whatever the configuration says.
const STREAMING_MEDIA_TYPES: [&str; 2] = ["text/event-stream", "application/grpc"];

/// Whether the media type is one the configuration compresses: listed, and not a stream
/// whose events must not wait in an encoder.
pub fn is_compressible_media_type(config: &CompressionConfig, essence: &str) -> bool {
    media_type::matches_any(essence, &config.content_types) && !is_streaming_media_type(essence)
}

/// `text/event-stream` and every `application/grpc*` (`+proto`, `-web`, …).
pub fn is_streaming_media_type(essence: &str) -> bool {
    STREAMING_MEDIA_TYPES
        .iter()
        .any(|streaming| essence.starts_with(streaming))
}

/// 1xx, 204 and 304 never have content (RFC 9110 sections 15.2, 15.3.5, 15.4.5).
pub fn status_has_no_body(exchange: &Exchange) -> bool {
    let status = exchange.response.status;
    (100..200).contains(&status) || status == 204 || status == 304
}

/// A range is cut from the identity body; compressing it breaks the offsets the client
/// stitches by (RFC 9110 section 14.4).
pub fn is_partial(exchange: &Exchange) -> bool {
    exchange.response.status == 206 || exchange.response.has_content_range
}

/// A HEAD response keeps the identity headers: there is no body to compress, and a
/// `Content-Encoding` without the body it describes helps nobody.
pub fn is_head(exchange: &Exchange) -> bool {
    exchange.request.is_head
}

/// A response that ends at its headers gets no body callback, so no encoder could write
/// even the empty stream's header and trailer.
pub fn ends_at_headers(exchange: &Exchange) -> bool {
    exchange.response.ends_at_headers
}

/// Any coding but identity is already applied: a body coded twice is one that clients
/// decode once and still cannot read.
pub fn is_already_encoded(exchange: &Exchange) -> bool {
    exchange
        .response
        .content_encodings
        .iter()
        .any(|coding| !coding.eq_ignore_ascii_case("identity"))
}

/// An intermediary must not add a content coding to a `no-transform` response
/// (RFC 9111 section 5.2.2.6).
pub fn forbids_transform(exchange: &Exchange) -> bool {
    exchange.response.cache_control.has("no-transform")
}

/// A known length under `min_length`; unknown lengths (chunked) are compressed.
pub fn is_too_short(exchange: &Exchange) -> bool {
    exchange
        .response
        .content_length
        .is_some_and(|length| length < exchange.config.min_length)
}

/// The filter cannot write body bytes from the trailers callback, so a body that ends with
/// trailer fields would lose the coding's own trailer: the client could not decode it.
/// Either side may warn of them: the upstream with `Trailer`, the client with `TE: trailers`
/// (gRPC and its kin; browsers never send it).
pub fn may_end_with_trailers(exchange: &Exchange) -> bool {
    exchange.response.announces_trailers || exchange.request.accepts_trailers
}

pub fn client_wants_identity(exchange: &Exchange) -> bool {
    exchange.request.negotiated.is_none()
}

/// A rule that, when it holds, keeps an eligible response as identity.
type Rule = fn(&Exchange) -> bool;

/// The rules that keep an eligible response as identity, in the order they are asked.
const IDENTITY_RULES: [(Rule, Skip); 9] = [
    (status_has_no_body, Skip::StatusWithoutBody),
    (is_partial, Skip::Partial),
    (is_head, Skip::HeadRequest),
    (ends_at_headers, Skip::EndsAtHeaders),
    (is_already_encoded, Skip::AlreadyEncoded),
    (forbids_transform, Skip::NoTransform),
    (is_too_short, Skip::TooShort),
    (may_end_with_trailers, Skip::Trailers),
    (client_wants_identity, Skip::ClientWantsIdentity),
];

/// Decides what happens to a response, from the request's facts and the response headers.
pub fn decide(
    config: &CompressionConfig,
    request: &RequestFacts,
    response: &ResponseFacts,
) -> Decision {
    if !config.enabled {
        return Decision::Untouched(Skip::Disabled);
    }
    let Some(essence) = response
        .content_type
        .as_deref()
        .and_then(media_type::essence)
    else {
        return Decision::Untouched(Skip::NoMediaType);
    };
    if is_streaming_media_type(&essence) {
        return Decision::Untouched(Skip::StreamingMediaType);
    }
    if !is_compressible_media_type(config, &essence) {
        return Decision::Untouched(Skip::MediaTypeNotListed);
    }

    let exchange = Exchange {
        config,
        request,
        response,
    };
    let skip = IDENTITY_RULES
        .iter()
        .find(|(applies, _)| applies(&exchange))
        .map(|(_, skip)| *skip);
    match (skip, request.negotiated) {
        (None, Some(encoding)) => Decision::Compress(encoding),
        (Some(skip), _) => Decision::Identity(skip),
        (None, None) => Decision::Identity(Skip::ClientWantsIdentity),
    }
}

/// `Content-Length` is digits only (RFC 9110 section 8.6).
fn parse_length(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
#[path = "eligibility_tests.rs"]
mod tests;
