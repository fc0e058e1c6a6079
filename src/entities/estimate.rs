use crate::domain::money::EstimateStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "estimates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub job_id: i64,
    /// 1, 2, 3... per job; editing a sent estimate makes the next one.
    pub version: i32,
    /// draft, sent, approved, declined, changes_requested, superseded
    pub status: EstimateStatus,
    pub currency: String,
    /// JSON: `[{"name": "Sales tax", "rate_pcm": 8875, "amount_minor": 3262}]`,
    /// each rate in thousandths of a percent (8875 = 8.875%).
    pub taxes: String,
    pub notes: String,
    pub valid_until: Option<Date>,
    pub subtotal_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub author_staff_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub decided_at: Option<DateTimeUtc>,
    pub decision_comment: Option<String>,
    /// What the customer approved: the required items plus the optional
    /// ones they chose, taxes included (set on approval).
    pub approved_total_minor: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
