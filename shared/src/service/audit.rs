//! The audit trail of admin acts. One record per act; never a token or a secret.

use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub event: &'static str,
    pub app_id: String,
    /// The admin token's subject (the app's client id).
    pub admin: String,
    pub target_user: Option<i64>,
    pub target_group: Option<i64>,
    pub source_ip: Option<String>,
    pub at_ms: i64,
}

pub trait AuditLog: Send + Sync {
    fn record(&self, event: AuditEvent);
}

/// Production sink: one JSON log line per event under the `imauth::audit` target.
#[derive(Debug, Default)]
pub struct TracingAudit;

impl AuditLog for TracingAudit {
    fn record(&self, e: AuditEvent) {
        tracing::info!(
            target: "imauth::audit",
            event = e.event,
            app_id = %e.app_id,
            admin = %e.admin,
            target_user = ?e.target_user,
            target_group = ?e.target_group,
            source_ip = e.source_ip.as_deref().unwrap_or("-"),
            at_ms = e.at_ms,
            "audit"
        );
    }
}

/// Test sink: keeps events in memory.
#[derive(Debug, Default)]
pub struct MemoryAudit(Mutex<Vec<AuditEvent>>);

impl MemoryAudit {
    pub fn events(&self) -> Vec<AuditEvent> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl AuditLog for MemoryAudit {
    fn record(&self, event: AuditEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }
}
