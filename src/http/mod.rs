//! Header grammar with no host calls: each file parses one header and nothing else.

pub mod cache_control;
pub mod date;
pub mod etag;
pub mod list;
