use crate::domain::messaging::InboundKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "inbound_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub job_id: Option<i64>,
    #[sea_orm(unique)]
    pub message_sid: String,
    pub from_number: String,
    pub to_number: String,
    pub body: String,
    /// `reply`, `stop`, `start` or `help`.
    pub kind: InboundKind,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
