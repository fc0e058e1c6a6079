use crate::domain::visit::{VisitKind, VisitStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "visits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub job_id: i64,
    pub kind: VisitKind,
    pub status: VisitStatus,
    pub window_start: DateTimeUtc,
    pub window_end: DateTimeUtc,
    pub duration_minutes: i32,
    pub en_route_at: Option<DateTimeUtc>,
    pub arrived_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The window start the day-before reminder was planned for.
    pub reminded_for: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
