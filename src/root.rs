//! The root context: one per worker VM. It reads the plugin configuration, defines the
//! metrics, owns this worker's caches, sweeps them on tick, and hands every new request a
//! filter that shares them.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{debug, error, info, LevelFilter};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

use crate::cache::health::HealthCache;
use crate::cache::store::{Change, Store};
use crate::config::Config;
use crate::filter::EdgeFilter;
use crate::metrics::{Metric, Metrics};

/// What every request of this worker shares once the configuration is accepted.
pub struct Shared {
    pub config: Config,
    pub metrics: Metrics,
    /// This worker's caches. Requests borrow them only between host calls that cannot call
    /// back into the module, never across a local reply.
    pub caches: RefCell<Caches>,
}

/// One worker's caches: each VM has its own, so they need no locks and are not seen by
/// other workers.
pub struct Caches {
    pub health: HealthCache,
    pub query: Store,
}

impl Shared {
    /// Moves the query cache metrics by what a store operation changed. Gauges move by
    /// increments because every worker adds its own store into the same stat.
    pub fn record_query_change(&self, change: Change) {
        self.metrics.add(Metric::QueryCacheEntries, change.entries);
        self.metrics.add(Metric::QueryCacheBytes, change.bytes);
        let evicted = i64::try_from(change.evicted).unwrap_or(i64::MAX);
        self.metrics.add(Metric::QueryCacheEvictions, evicted);
        if change.stored {
            self.metrics.increment(Metric::QueryCacheStores);
        }
    }

    /// Takes this worker's share out of the gauges, before its caches are dropped.
    fn withdraw_from_gauges(&self) {
        let Ok(caches) = self.caches.try_borrow() else {
            return;
        };
        let entries = i64::try_from(caches.query.len()).unwrap_or(i64::MAX);
        let bytes = i64::try_from(caches.query.bytes()).unwrap_or(i64::MAX);
        self.metrics.add(Metric::QueryCacheEntries, -entries);
        self.metrics.add(Metric::QueryCacheBytes, -bytes);
    }
}

/// Milliseconds since the Unix epoch; the caches keep time in these.
pub fn epoch_ms(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Default)]
pub struct EdgeRoot {
    shared: Option<Rc<Shared>>,
}

impl Context for EdgeRoot {
    fn on_done(&mut self) -> bool {
        if let Some(old) = self.shared.take() {
            old.withdraw_from_gauges();
        }
        true
    }
}

impl RootContext for EdgeRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        follow_host_log_level();
        info!("edge-optimizer {} starting", env!("CARGO_PKG_VERSION"));
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        follow_host_log_level();
        let bytes = self.get_plugin_configuration().unwrap_or_default();

        let config = match Config::from_json(&bytes) {
            Ok(config) => config,
            Err(e) => {
                error!("edge-optimizer configuration refused: {e}");
                return false;
            }
        };

        info!("edge-optimizer configured: {}", config.summary());
        let metrics = Metrics::define(&config.metrics.prefix);
        let caches = Caches {
            health: HealthCache::new(config.query_cache.max_entry_bytes),
            query: Store::new(config.query_cache.max_entries, config.query_cache.max_bytes)
                .counting_bookkeeping(),
        };
        if config.query_cache.enabled {
            self.set_tick_period(config.query_cache.sweep_interval);
        }

        // A new configuration starts with empty caches; the old ones leave the gauges.
        if let Some(old) = self.shared.take() {
            old.withdraw_from_gauges();
        }
        self.shared = Some(Rc::new(Shared {
            config,
            metrics,
            caches: RefCell::new(caches),
        }));
        true
    }

    fn on_tick(&mut self) {
        let Some(shared) = self.shared.as_ref() else {
            return;
        };
        let now_ms = epoch_ms(self.get_current_time());
        let Ok(mut caches) = shared.caches.try_borrow_mut() else {
            return;
        };
        let change = caches.query.sweep(now_ms);
        drop(caches);

        if change.entries != 0 {
            debug!(
                "query_cache sweep removed {} expired entries",
                -change.entries
            );
        }
        shared.record_query_change(change);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = Rc::clone(self.shared.as_ref()?);
        Some(Box::new(EdgeFilter::new(context_id, shared)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Keeps the module's log filter at Envoy's wasm log level. Envoy drops lines below its
/// level anyway, but formatting them and crossing into the host on every request costs more
/// than the rest of a pass-through request. The level is read at VM start and at every
/// configuration: raising it (`--component-log-level wasm:debug`) takes effect from then on.
fn follow_host_log_level() {
    let Ok(level) = hostcalls::get_log_level() else {
        return;
    };
    log::set_max_level(match level {
        LogLevel::Trace => LevelFilter::Trace,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Error | LogLevel::Critical => LevelFilter::Error,
    });
}
