//! The per-worker store: an LRU map bounded by entry count and by bytes.
//!
//! Every change reports what it did to the totals as a [`Change`], so the filter can move
//! the shared gauges by increments: each worker owns its store, but the gauges sum all
//! workers.

use lru::LruCache;

use super::entry::{Entry, Variant};

/// What one operation did to the store, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    /// Entries added minus entries removed.
    pub entries: i64,
    /// Bytes added minus bytes removed.
    pub bytes: i64,
    /// Entries pushed out by the bounds (not those that expired or were replaced).
    pub evicted: u64,
    /// Whether the entry offered to [`Store::insert`] was kept.
    pub stored: bool,
}

impl Change {
    fn removed(&mut self, bytes: usize) {
        self.entries -= 1;
        self.bytes -= i64::try_from(bytes).unwrap_or(i64::MAX);
    }

    fn added(&mut self, bytes: usize) {
        self.entries += 1;
        self.bytes += i64::try_from(bytes).unwrap_or(i64::MAX);
    }
}

/// An LRU cache holding at most `max_entries` entries and `max_bytes` bytes, counting
/// keys, headers and bodies.
pub struct Store {
    entries: LruCache<Vec<u8>, Entry>,
    max_entries: usize,
    max_bytes: usize,
    bytes: usize,
    counts_bookkeeping: bool,
}

/// What an entry costs beyond its payload: the entry itself, the store's node and map
/// slot, and the allocator's share of each allocation. Measured in Envoy with V8: about 390
/// bytes for an entry of five headers, beyond its key, header text and body.
const ENTRY_BOOKKEEPING_BYTES: usize = 192;
/// Each stored header line is two more allocations (name and value).
const HEADER_BOOKKEEPING_BYTES: usize = 40;

impl Store {
    pub fn new(max_entries: usize, max_bytes: usize) -> Store {
        Store {
            entries: LruCache::unbounded(),
            max_entries: max_entries.max(1),
            max_bytes,
            bytes: 0,
            counts_bookkeeping: false,
        }
    }

    /// Counts each entry's bookkeeping memory against `max_bytes` too, so the bound holds
    /// for the memory the cache really takes. (Unit tests leave it off to count exact bytes.)
    pub fn counting_bookkeeping(mut self) -> Store {
        self.counts_bookkeeping = true;
        self
    }

    fn cost(&self, key: &[u8], entry: &Entry) -> usize {
        let payload = key.len() + entry.size_bytes();
        if !self.counts_bookkeeping {
            return payload;
        }
        payload + ENTRY_BOOKKEEPING_BYTES + HEADER_BOOKKEEPING_BYTES * entry.headers.len()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores `entry` under `key`, replacing what was there, then evicts least recently
    /// used entries until both bounds hold. An entry that alone exceeds `max_bytes` is
    /// refused (and the old entry under its key is still removed: it is outdated).
    pub fn insert(&mut self, key: Vec<u8>, entry: Entry) -> Change {
        let mut change = self.remove(&key);

        let size = self.cost(&key, &entry);
        if size > self.max_bytes {
            return change;
        }

        while self.entries.len() >= self.max_entries || self.bytes + size > self.max_bytes {
            let Some((old_key, old)) = self.entries.pop_lru() else {
                break;
            };
            let old_size = self.cost(&old_key, &old);
            self.bytes -= old_size;
            change.removed(old_size);
            change.evicted += 1;
        }

        self.bytes += size;
        self.entries.put(key, entry);
        change.added(size);
        change.stored = true;
        change
    }

    /// Keeps an encoded form of an entry's body beside it, so later hits need not encode
    /// again; its bytes count against the budget like the rest. Nothing changes when the
    /// key is gone, the coding is already kept, or the entry would outgrow `max_bytes`.
    pub fn add_variant(&mut self, key: &[u8], variant: Variant) -> Change {
        let Some(mut entry) = self.entries.peek(key).cloned() else {
            return Change::default();
        };
        if entry.variant(variant.coding).is_some() {
            return Change::default();
        }
        entry.variants.push(variant);
        if self.cost(key, &entry) > self.max_bytes {
            return Change::default();
        }

        let mut change = self.insert(key.to_vec(), entry);
        // The same entry grew; it is not a new store.
        change.stored = false;
        change
    }

    /// The entry under `key` if it is still fresh, marking it recently used. A stale entry
    /// is removed on the way, which the returned change reports.
    pub fn get_fresh(&mut self, key: &[u8], now_ms: u64) -> (Option<&Entry>, Change) {
        let stale = self.entries.peek(key).is_some_and(|e| !e.is_fresh(now_ms));
        if stale {
            return (None, self.remove(key));
        }
        (self.entries.get(key), Change::default())
    }

    /// The entry under `key`, fresh or not, marking it recently used.
    pub fn get_any(&mut self, key: &[u8]) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn remove(&mut self, key: &[u8]) -> Change {
        let mut change = Change::default();
        if let Some((old_key, old)) = self.entries.pop_entry(key) {
            let size = self.cost(&old_key, &old);
            self.bytes -= size;
            change.removed(size);
        }
        change
    }

    /// Removes every entry that is no longer fresh.
    pub fn sweep(&mut self, now_ms: u64) -> Change {
        let expired: Vec<Vec<u8>> = self
            .entries
            .iter()
            .filter(|(_, entry)| !entry.is_fresh(now_ms))
            .map(|(key, _)| key.clone())
            .collect();
        let mut change = Change::default();
        for key in expired {
            let removed = self.remove(&key);
            change.entries += removed.entries;
            change.bytes += removed.bytes;
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use proptest::prelude::*;

    use crate::cache::entry::Variant;

    use super::*;

    fn entry(body_bytes: usize, expires_at_ms: u64) -> Entry {
        Entry {
            status: 200,
            headers: Vec::new(),
            body: Rc::from(vec![b'x'; body_bytes]),
            stored_at_ms: 0,
            expires_at_ms,
            initial_age_secs: 0,
            vary: Vec::new(),
            serves_authorized: false,
            variants: Vec::new(),
        }
    }

    fn key(n: u32) -> Vec<u8> {
        format!("k{n:03}").into_bytes() // four bytes each
    }

    #[test]
    fn the_least_recently_used_entry_goes_first_when_entries_run_out() {
        let mut store = Store::new(2, 1000);
        store.insert(key(1), entry(10, 100));
        store.insert(key(2), entry(10, 100));
        store.get_fresh(&key(1), 0);

        let change = store.insert(key(3), entry(10, 100));

        assert_eq!(change.evicted, 1);
        assert!(store.get_any(&key(1)).is_some());
        assert!(store.get_any(&key(2)).is_none());
        assert!(store.get_any(&key(3)).is_some());
    }

    #[test]
    fn bytes_evict_as_many_old_entries_as_needed() {
        let mut store = Store::new(100, 100);
        for n in 0..5 {
            store.insert(key(n), entry(16, 100)); // 20 bytes each
        }

        let change = store.insert(key(9), entry(56, 100)); // 60 bytes

        assert_eq!(change.evicted, 3);
        assert_eq!(change.entries, 1 - 3);
        assert_eq!(change.bytes, 60 - 3 * 20);
        assert_eq!(store.bytes(), 100);
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn one_entry_bigger_than_all_the_rest_together_evicts_them_all() {
        let mut store = Store::new(100, 100);
        for n in 0..4 {
            store.insert(key(n), entry(6, 100)); // 10 bytes each
        }

        let change = store.insert(key(9), entry(96, 100)); // exactly the budget

        assert_eq!(change.evicted, 4);
        assert_eq!(store.len(), 1);
        assert_eq!(store.bytes(), 100);
    }

    #[test]
    fn an_entry_bigger_than_the_budget_is_refused_and_evicts_nothing() {
        let mut store = Store::new(100, 100);
        store.insert(key(1), entry(6, 100));

        let change = store.insert(key(2), entry(97, 100));

        assert_eq!(change, Change::default());
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn replacing_a_key_is_not_an_eviction() {
        let mut store = Store::new(1, 100);
        store.insert(key(1), entry(6, 100));

        let change = store.insert(key(1), entry(16, 100));

        assert_eq!(
            change,
            Change {
                entries: 0,
                bytes: 10,
                evicted: 0,
                stored: true
            }
        );
    }

    #[test]
    fn a_variant_grows_its_entry_and_evicts_others_if_needed() {
        let mut store = Store::new(10, 100);
        store.insert(key(1), entry(36, 100)); // 40 bytes
        store.insert(key(2), entry(36, 100)); // 40 bytes
        let gzip = |bytes: usize| Variant {
            coding: "gzip",
            body: Rc::from(vec![b'z'; bytes]),
        };

        let change = store.add_variant(&key(2), gzip(30));

        assert_eq!(change.entries, -1);
        assert_eq!(change.bytes, 30 - 40);
        assert_eq!(change.evicted, 1);
        assert!(!change.stored);
        assert_eq!(store.bytes(), 70);
        assert!(store.get_any(&key(2)).unwrap().variant("gzip").is_some());
        assert_eq!(store.add_variant(&key(2), gzip(1)), Change::default());
        assert_eq!(store.add_variant(&key(9), gzip(1)), Change::default());
    }

    #[test]
    fn a_variant_that_would_outgrow_the_budget_is_not_kept() {
        let mut store = Store::new(10, 100);
        store.insert(key(1), entry(36, 100));

        assert_eq!(
            store.add_variant(
                &key(1),
                Variant {
                    coding: "br",
                    body: Rc::from(vec![0; 61])
                }
            ),
            Change::default()
        );
        assert_eq!(store.bytes(), 40);
    }

    #[test]
    fn stale_entries_go_on_lookup_and_on_sweep() {
        let mut store = Store::new(10, 1000);
        store.insert(key(1), entry(6, 50));
        store.insert(key(2), entry(6, 50));
        store.insert(key(3), entry(6, 500));

        let (found, change) = store.get_fresh(&key(1), 50);
        assert!(found.is_none());
        assert_eq!(change.entries, -1);

        let change = store.sweep(50);
        assert_eq!(change.entries, -1);
        assert_eq!(change.bytes, -10);
        assert_eq!(change.evicted, 0);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn get_any_keeps_stale_entries() {
        let mut store = Store::new(10, 1000);
        store.insert(key(1), entry(6, 50));

        assert!(store.get_any(&key(1)).is_some());
        assert_eq!(store.len(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert { key: u8, body: usize, ttl: u64 },
        Lookup { key: u8 },
        Remove { key: u8 },
        Variant { key: u8, body: usize },
        Tick { ms: u64 },
        Sweep,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..40, 0usize..300, 0u64..100).prop_map(|(key, body, ttl)| Op::Insert {
                key,
                body,
                ttl
            }),
            (0u8..40).prop_map(|key| Op::Lookup { key }),
            (0u8..40).prop_map(|key| Op::Remove { key }),
            (0u8..40, 0usize..300).prop_map(|(key, body)| Op::Variant { key, body }),
            (0u64..50).prop_map(|ms| Op::Tick { ms }),
            Just(Op::Sweep),
        ]
    }

    proptest! {
        #[test]
        fn bounds_hold_and_changes_add_up_under_any_sequence(
            max_entries in 1usize..12,
            max_bytes in 1usize..1200,
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let mut store = Store::new(max_entries, max_bytes);
            let mut now = 0u64;
            let (mut entries, mut bytes) = (0i64, 0i64);
            let mut record = |change: Change| {
                entries += change.entries;
                bytes += change.bytes;
                (entries, bytes)
            };

            for op in ops {
                let change = match op {
                    Op::Insert { key, body, ttl } => {
                        store.insert(vec![key], entry(body, now + ttl))
                    }
                    Op::Lookup { key } => store.get_fresh(&[key], now).1,
                    Op::Remove { key } => store.remove(&[key]),
                    Op::Variant { key, body } => store.add_variant(
                        &[key],
                        Variant {
                            coding: "gzip",
                            body: Rc::from(vec![0; body]),
                        },
                    ),
                    Op::Tick { ms } => {
                        now += ms;
                        Change::default()
                    }
                    Op::Sweep => store.sweep(now),
                };
                let (entries, bytes) = record(change);

                prop_assert!(store.len() <= max_entries);
                prop_assert!(store.bytes() <= max_bytes);
                prop_assert_eq!(entries, store.len() as i64);
                prop_assert_eq!(bytes, store.bytes() as i64);
            }
        }
    }
}
