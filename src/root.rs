//! The root context: one per worker VM. It reads the plugin configuration, defines the
//! metrics, and hands every new request a filter that shares them.

use std::rc::Rc;

use log::{error, info};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use crate::config::Config;
use crate::filter::EdgeFilter;
use crate::metrics::Metrics;

/// What every request of this worker shares once the configuration is accepted.
pub struct Shared {
    pub config: Config,
    pub metrics: Metrics,
}

#[derive(Default)]
pub struct EdgeRoot {
    shared: Option<Rc<Shared>>,
}

impl Context for EdgeRoot {}

impl RootContext for EdgeRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        info!("edge-optimizer {} starting", env!("CARGO_PKG_VERSION"));
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
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
        self.shared = Some(Rc::new(Shared { config, metrics }));
        true
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = Rc::clone(self.shared.as_ref()?);
        Some(Box::new(EdgeFilter::new(context_id, shared)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
