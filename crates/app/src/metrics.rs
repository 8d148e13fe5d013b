//! Prometheus metrics at `/metrics`. Labels use the route pattern, never the raw path, so
//! that ids and tokens in URLs cannot leak into metrics or explode their cardinality.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    /// The route pattern (`server::request` keeps one copy of each).
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub durations: Family<RouteLabels, Histogram>,
    pub audit_events: Counter,
    pub audit_failures: Counter,
    pub alert_deliveries: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        let audit_events = Counter::default();
        let audit_failures = Counter::default();
        let alert_deliveries = Counter::default();
        let mut registry = Registry::with_prefix("steward");
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route", durations.clone());
        registry.register("audit_events", "Audit events appended", audit_events.clone());
        registry.register("audit_write_failures", "Audit events that could not be written", audit_failures.clone());
        registry.register("alert_deliveries", "Alert emails and webhooks delivered", alert_deliveries.clone());
        Self { registry, requests, durations, audit_events, audit_failures, alert_deliveries }
    }
}

impl Metrics {
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
