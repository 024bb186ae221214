//! A scripted upstream server on loopback, built on hyper. Each test gives it a function from
//! the request to the reply; it records every request it receives, so a test can prove that
//! a request did, or did not, reach the upstream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as received.
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// What the upstream answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, sent in one piece with `Content-Length` unless `chunks` is set.
    pub body: Vec<u8>,
    /// When set, the body is sent as these chunks with `Transfer-Encoding: chunked`.
    pub chunks: Option<Vec<Vec<u8>>>,
    /// Wait before the headers.
    pub delay: Duration,
    /// Wait between chunks.
    pub chunk_delay: Duration,
    /// Drop the connection after sending the chunks, without ending the body.
    pub reset_after_chunks: bool,
    /// Trailer fields sent after the chunks (HTTP/2, or HTTP/1.1 chunked).
    pub trailers: Vec<(String, String)>,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            chunks: None,
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            reset_after_chunks: false,
            trailers: Vec::new(),
        }
    }

    /// `200 OK` with a content type and a body.
    pub fn ok(content_type: &str, body: impl AsRef<[u8]>) -> Reply {
        Reply::new(200)
            .header("content-type", content_type)
            .body(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Reply {
        self.body = body.as_ref().to_vec();
        self
    }

    /// Sends `body` chunked, cut into pieces of the given sizes (the rest in a last piece).
    pub fn chunked(mut self, sizes: &[usize]) -> Reply {
        let mut chunks = Vec::new();
        let mut rest = self.body.as_slice();
        for &size in sizes {
            let (head, tail) = rest.split_at(size.min(rest.len()));
            if !head.is_empty() {
                chunks.push(head.to_vec());
            }
            rest = tail;
        }
        if !rest.is_empty() {
            chunks.push(rest.to_vec());
        }
        self.chunks = Some(chunks);
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn chunk_delay(mut self, delay: Duration) -> Reply {
        self.chunk_delay = delay;
        self
    }

    /// Sends these trailer fields after the chunks.
    pub fn trailer(mut self, name: &str, value: &str) -> Reply {
        self.trailers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sends the chunks, then drops the connection mid-body.
    pub fn reset_after_chunks(mut self) -> Reply {
        self.reset_after_chunks = true;
        self
    }
}

type Handler = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

/// A running upstream; stops when dropped.
pub struct Upstream {
    pub port: u16,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Upstream {
    /// Starts a server on 127.0.0.1 with a free port, answering every request with `handler`.
    pub fn start(handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static) -> Upstream {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = runtime
            .block_on(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))))
            .expect("bind the upstream on loopback");
        let port = listener.local_addr().expect("upstream address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);

        let recorded = Arc::clone(&requests);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = Arc::clone(&handler);
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        serve(request, Arc::clone(&handler), Arc::clone(&recorded))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        Upstream {
            port,
            requests,
            runtime: Some(runtime),
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests have been received so far.
    pub fn hits(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// How many requests for this path (query ignored) have been received so far.
    pub fn hits_for(&self, path: &str) -> usize {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|r| r.path_only() == path).count()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

type ReplyBody = BoxBody<Bytes, std::io::Error>;

async fn serve(
    request: hyper::Request<Incoming>,
    handler: Arc<Handler>,
    recorded: Arc<Mutex<Vec<RecordedRequest>>>,
) -> Result<hyper::Response<ReplyBody>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let seen = RecordedRequest {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body,
    };
    recorded.lock().unwrap().push(seen.clone());

    let reply = handler(&seen);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }

    let mut response = hyper::Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    let body = match reply.chunks.clone() {
        None => Full::new(Bytes::from(reply.body.clone()))
            .map_err(|never| match never {})
            .boxed(),
        Some(chunks) => streamed(
            chunks,
            reply.trailers.clone(),
            reply.chunk_delay,
            reply.reset_after_chunks,
        ),
    };
    Ok(response.body(body).expect("a valid scripted reply"))
}

fn streamed(
    chunks: Vec<Vec<u8>>,
    trailers: Vec<(String, String)>,
    pause: Duration,
    reset: bool,
) -> ReplyBody {
    let (sender, receiver) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        for (i, chunk) in chunks.into_iter().enumerate() {
            if i > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            if sender
                .send(Ok(Frame::data(Bytes::from(chunk))))
                .await
                .is_err()
            {
                return;
            }
        }
        if reset {
            let error = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "scripted reset");
            let _ = sender.send(Err(error)).await;
            return;
        }
        if !trailers.is_empty() {
            let mut fields = hyper::HeaderMap::new();
            for (name, value) in trailers {
                if let (Ok(name), Ok(value)) = (
                    hyper::header::HeaderName::from_bytes(name.as_bytes()),
                    hyper::header::HeaderValue::from_str(&value),
                ) {
                    fields.append(name, value);
                }
            }
            let _ = sender.send(Ok(Frame::trailers(fields))).await;
        }
    });
    let stream = tokio_stream_from(receiver);
    BodyExt::boxed(StreamBody::new(stream))
}

/// Adapts a channel receiver into a `Stream` without pulling in another crate.
fn tokio_stream_from(
    mut receiver: mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send + Sync {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
