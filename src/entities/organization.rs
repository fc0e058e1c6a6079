use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub country: String,
    pub currency: String,
    pub mission_statement: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub travel_buffer_minutes: i32,
    pub max_window_minutes: i32,
    /// Local times of the twice-daily status updates, e.g. `08:30,16:30`.
    pub update_times: String,
    /// SMS quiet hours, recipient local time: SMS go out only between these.
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
    /// The SMS number customers text (E.164); tells whose an inbound reply is.
    pub sms_number: Option<String>,
    /// Alert the office when a crew is not on its way this long before a window closes.
    pub at_risk_lead_minutes: i32,
    /// After a missed window with no new one, apologize and promise a call this long after.
    pub late_grace_minutes: i32,
    /// An estimate visit promises the estimate within this many hours.
    pub estimate_turnaround_hours: i32,
    pub created_at: DateTimeUtc,
    /// Customers may pick another time for a visit from their page.
    pub customers_may_reschedule: bool,
    /// The company's logo (an absolute https URL), shown on customer pages and emails.
    pub logo_url: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
