use crate::domain::messaging::MessageKind;
use sea_orm::entity::prelude::*;

/// The organization's own wording of one part of one message kind.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "message_wording")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub kind: MessageKind,
    /// `sms`, `email_text`, `email_html` or `subject`.
    pub part: String,
    pub body: String,
    pub updated_by: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
