//! The cache machinery shared by health caching and the query cache, with no host calls.
//!
//! Both keep [`entry::Entry`] values in a [`store::Store`] (LRU, bounded by entries and
//! bytes) under a [`key::BaseKey`]. They differ only in their rules: health paths use a
//! fixed TTL per outcome ([`health`]); query prefixes follow HTTP caching
//! ([`storable`], [`freshness`]).

pub mod entry;
pub mod freshness;
pub mod health;
pub mod key;
pub mod storable;
pub mod store;
