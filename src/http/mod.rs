//! Header grammar with no host calls: each file parses one header and nothing else.

pub mod accept_encoding;
pub mod cache_control;
pub mod date;
pub mod etag;
pub mod header_map;
pub mod list;
pub mod media_type;
pub mod vary;
