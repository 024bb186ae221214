//! The end-to-end harness: a real Envoy running the real module in front of a scripted
//! upstream, and a plain HTTP/1.1 client that shows exactly what a user would receive.
#![allow(dead_code)]

pub mod client;
pub mod envoy;
pub mod shipped;
pub mod upstream;
pub mod wasmplugin;

#[allow(unused_imports)]
pub use client::{Request, Response};
#[allow(unused_imports)]
pub use envoy::{Envoy, EnvoyOptions};
#[allow(unused_imports)]
pub use upstream::{RecordedRequest, Reply, Upstream};

/// A port on 127.0.0.1 that was free a moment ago, for servers that need one up front.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on loopback")
}
