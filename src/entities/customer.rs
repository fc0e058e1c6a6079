use crate::domain::people::ChannelList;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Comma-separated channel names, e.g. `sms,email`.
    pub channels: ChannelList,
    pub timezone: String,
    pub address: String,
    pub sms_opted_out: bool,
    pub email_opted_out: bool,
    /// Why SMS to this customer stopped (invalid number, not SMS-capable...).
    pub sms_problem: Option<String>,
    /// Why email to this customer stopped (a permanent SMTP refusal).
    pub email_problem: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
