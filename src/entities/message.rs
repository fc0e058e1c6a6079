use crate::domain::messaging::{MessageKind, MessageState, ProviderStatus, SmsEncoding};
use crate::domain::people::Channel;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub job_id: Option<i64>,
    pub visit_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub kind: MessageKind,
    pub channel: Channel,
    pub recipient: String,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub segments: Option<i32>,
    pub encoding: Option<SmsEncoding>,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub state: MessageState,
    pub due_at: DateTimeUtc,
    pub next_attempt_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub lease_until: Option<DateTimeUtc>,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// Twilio's delivery receipt: queued, sent, delivered, undelivered, failed.
    pub provider_status: Option<ProviderStatus>,
    pub provider_error_code: Option<i32>,
    pub provider_status_at: Option<DateTimeUtc>,
    /// A direct reply to a customer who just wrote to us may go out in quiet hours until then.
    pub quiet_hours_exempt_until: Option<DateTimeUtc>,
    /// The office sent this again: the failed or uncertain message it repeats.
    pub resent_from_id: Option<i64>,
    /// The worker (replica and process) holding the claim while `sending`.
    pub lease_owner: Option<String>,
    /// When the current claim's send started: a row found `sending` with
    /// this set, its lease run out, is checked with the provider first.
    pub send_started_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
