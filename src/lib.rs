//! edge-optimizer: a proxy-wasm filter for Envoy that answers cheap, repetitive requests at
//! the edge and compresses what goes back to clients.
//!
//! Only this file talks to the proxy-wasm entry point. `root` and `filter` are the thin layer
//! of host calls; every other module is plain Rust that decides from headers and bytes.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod base64;

pub mod compress;

pub mod cache;

pub mod config;
pub mod duration;
pub mod favicon;
pub mod filter;
pub mod http;
pub mod local_reply;
pub mod metrics;
pub mod root;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| Box::new(root::EdgeRoot::default()));
}}
