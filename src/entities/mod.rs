//! sea-orm entities, one per table, in the shape `sea-orm-cli generate` writes.
//! Behaviour lives in `store` and `domain`, not here.
//!
//! Every state, kind, role and channel column is one of the `domain` enums
//! (`text_column!` below makes it a sea-orm column type): it is written as
//! the enum's spelling, and a spelling this version does not know, read
//! back, is an error (`DbErr::Type`), never a default. The schema is
//! unchanged: the columns are text.

use crate::domain::job::{JobStatus, TaskKind, TaskStatus, TimelineKind};
use crate::domain::messaging::{InboundKind, MessageKind, MessageState, ProviderStatus, SmsEncoding};
use crate::domain::money::{EstimateStatus, LineKind};
use crate::domain::people::{AuditAction, Channel, ChannelList, Role};
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::visit::{VisitKind, VisitStatus};

/// Implements what sea-orm needs of a model field's type (as
/// `DeriveValueType` does for a string enum): `Into<Value>` to write it and
/// in filters, `TryGetable` to read it, `ValueType` and `Nullable` (for
/// `Option` fields). The type gives its stored text by `Display` and reads
/// it back with `parse(&str) -> Option<Self>`.
macro_rules! text_column {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl From<$t> for sea_orm::Value {
            fn from(v: $t) -> Self {
                sea_orm::Value::String(Some(Box::new(v.to_string())))
            }
        }

        impl sea_orm::TryGetable for $t {
            fn try_get_by<I: sea_orm::ColIdx>(res: &sea_orm::QueryResult, idx: I) -> Result<Self, sea_orm::TryGetError> {
                let text = <String as sea_orm::TryGetable>::try_get_by(res, idx)?;
                <$t>::parse(&text).ok_or_else(|| {
                    sea_orm::TryGetError::DbErr(sea_orm::DbErr::Type(format!(concat!("unknown ", $what, " {:?}"), text)))
                })
            }
        }

        impl sea_orm::sea_query::ValueType for $t {
            fn try_from(v: sea_orm::Value) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
                let text = <String as sea_orm::sea_query::ValueType>::try_from(v)?;
                <$t>::parse(&text).ok_or(sea_orm::sea_query::ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($t).to_owned()
            }

            fn array_type() -> sea_orm::sea_query::ArrayType {
                sea_orm::sea_query::ArrayType::String
            }

            fn column_type() -> sea_orm::sea_query::ColumnType {
                sea_orm::sea_query::ColumnType::String(sea_orm::sea_query::StringLen::None)
            }
        }

        impl sea_orm::sea_query::Nullable for $t {
            fn null() -> sea_orm::Value {
                sea_orm::Value::String(None)
            }
        }
    )*};
}

text_column!(
    AuditAction => "audit action",
    Channel => "channel",
    ChannelList => "channel list",
    EstimateStatus => "estimate status",
    InboundKind => "inbound message kind",
    JobStatus => "job status",
    LineKind => "estimate line kind",
    MessageKind => "message kind",
    MessageState => "message state",
    PromiseKind => "promise kind",
    PromiseOutcome => "promise outcome",
    ProviderStatus => "provider status",
    Role => "role",
    SmsEncoding => "SMS encoding",
    TaskKind => "task kind",
    TaskStatus => "task status",
    TimelineKind => "timeline event kind",
    VisitKind => "visit kind",
    VisitStatus => "visit status",
);

pub mod api_token;
pub mod audit;
pub mod calendar_feed;
pub mod customer;
pub mod customer_link;
pub mod estimate;
pub mod estimate_line;
pub mod inbound_message;
pub mod job;
pub mod message;
pub mod message_wording;
pub mod organization;
pub mod password_reset;
pub mod promise;
pub mod rating;
pub mod session;
pub mod staff;
pub mod task;
pub mod timeline_event;
pub mod update_slot;
pub mod visit;
pub mod visit_staff;

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Nullable, ValueType};
    use sea_orm::Value;

    /// Written as its spelling, read back as itself; any other text is refused.
    fn round_trips<T: ValueType + Nullable + Into<Value> + Copy + PartialEq + std::fmt::Debug>(all: &[T]) {
        for v in all {
            let stored: Value = (*v).into();
            assert!(matches!(&stored, Value::String(Some(_))), "{v:?} is stored as text");
            assert_eq!(<T as ValueType>::try_from(stored).ok(), Some(*v));
        }
        assert!(<T as ValueType>::try_from(Value::from("no_such_state")).is_err(), "{}", T::type_name());
        assert_eq!(T::null(), Value::String(None));
    }

    #[test]
    fn every_typed_column_is_stored_as_its_spelling() {
        round_trips(AuditAction::ALL);
        round_trips(Channel::ALL);
        round_trips(EstimateStatus::ALL);
        round_trips(InboundKind::ALL);
        round_trips(JobStatus::ALL);
        round_trips(LineKind::ALL);
        round_trips(MessageKind::ALL);
        round_trips(MessageState::ALL);
        round_trips(PromiseKind::ALL);
        round_trips(PromiseOutcome::ALL);
        round_trips(ProviderStatus::ALL);
        round_trips(Role::ALL);
        round_trips(SmsEncoding::ALL);
        round_trips(TaskKind::ALL);
        round_trips(TaskStatus::ALL);
        round_trips(TimelineKind::ALL);
        round_trips(VisitKind::ALL);
        round_trips(VisitStatus::ALL);
        assert_eq!(Value::from(MessageState::NoProvider), Value::from("not_sent_no_provider"));
        let both = ChannelList(vec![Channel::Sms, Channel::Email]);
        assert_eq!(Value::from(both.clone()), Value::from("sms,email"));
        assert_eq!(<ChannelList as ValueType>::try_from(Value::from("sms,email")).ok(), Some(both));
        assert!(<ChannelList as ValueType>::try_from(Value::from("sms,fax")).is_err());
    }
}
