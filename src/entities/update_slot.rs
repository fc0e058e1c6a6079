use sea_orm::entity::prelude::*;

/// A status-update slot for the organization's customers in one zone:
/// planned (every job's update stored), and its promises recorded as the
/// messages settle.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "update_slots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub zone: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: DateTimeUtc,
    /// The outbox's last id before planning began: the slot's messages come after it.
    pub first_message_id: i64,
    /// The outbox's last id when planning ended: the slot's messages are at or before it.
    pub last_message_id: Option<i64>,
    /// When every job of the zone had its update stored; until then the slot is not handled.
    pub planned_at: Option<DateTimeUtc>,
    /// Every update promise up to this message id is recorded.
    pub decided_through: Option<i64>,
    /// When the last of the slot's promises was recorded.
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
