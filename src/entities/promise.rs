use crate::domain::promise::{PromiseKind, PromiseOutcome};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "promises")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub job_id: i64,
    pub visit_id: Option<i64>,
    /// Who the promise depends on (the crew lead of a visit), for KPIs.
    pub staff_id: Option<i64>,
    /// arrival_window, status_update, estimate_by, callback_by, completion_by
    pub kind: PromiseKind,
    /// Unique: the same promise is never recorded twice.
    pub key: String,
    pub description: String,
    pub window_start: Option<DateTimeUtc>,
    pub due_at: DateTimeUtc,
    /// pending, kept, broken, renegotiated, cancelled
    pub outcome: PromiseOutcome,
    pub decided_at: Option<DateTimeUtc>,
    /// JSON: what decided it (the status change, the message).
    pub evidence: String,
    pub lateness_minutes: Option<i32>,
    pub at_risk_at: Option<DateTimeUtc>,
    /// The broken promise this one replaces.
    pub renegotiates: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
