//! Pure rules: no I/O, no clock. Everything here is unit-tested beside the code.

/// Gives an enum its stored spellings: `ALL`, `as_str`, `parse`, `choices`
/// and `Display`. Every state, kind, role and channel the database keeps is
/// one of these; the spelling here is the text in the column, and
/// `entities` turns it into a sea-orm column type (an unknown spelling read
/// back is an error there, never a default).
macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$v),*];
            pub fn as_str(&self) -> &'static str { match self { $(<$t>::$v => $s),* } }
            pub fn parse(s: &str) -> Option<$t> { match s { $($s => Some(<$t>::$v),)* _ => None } }
            /// The accepted spellings, for error messages.
            pub fn choices() -> String { [$($s),*].join(", ") }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}
pub(crate) use str_enum;

pub mod availability;
pub mod bounds;
pub mod feasibility;
pub mod job;
pub mod messaging;
pub mod money;
pub mod people;
pub mod promise;
pub mod revisions;
pub mod time;
pub mod tokens;
pub mod visit;

#[cfg(test)]
mod tests {
    use super::job::{JobStatus, TaskKind, TaskStatus, TimelineKind};
    use super::messaging::{InboundKind, MessageKind, MessageState, ProviderStatus, SmsEncoding};
    use super::money::{EstimateStatus, LineKind};
    use super::people::{AuditAction, Channel, Role};
    use super::promise::{PromiseKind, PromiseOutcome};
    use super::visit::{VisitKind, VisitStatus};

    /// Each value reads back from its stored spelling, serde writes (and
    /// reads) that same spelling, so the API's JSON is the column's text,
    /// and no two values share a spelling.
    macro_rules! round_trip {
        ($($t:ty),* $(,)?) => {$({
            let all = <$t>::ALL;
            assert!(!all.is_empty());
            for v in all {
                assert_eq!(<$t>::parse(v.as_str()), Some(*v), "{}", v.as_str());
                assert_eq!(v.to_string(), v.as_str());
                assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::from(v.as_str()), "{v:?}");
                assert_eq!(serde_json::from_value::<$t>(v.as_str().into()).unwrap(), *v);
                assert!(<$t>::choices().split(", ").any(|c| c == v.as_str()));
            }
            let mut names: Vec<&str> = all.iter().map(|v| v.as_str()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), all.len(), "{} spellings are unique", stringify!($t));
            assert_eq!(<$t>::parse("no such value"), None);
            assert_eq!(<$t>::parse(&all[0].as_str().to_uppercase()), None, "spellings are exact");
        })*};
    }

    #[test]
    fn every_stored_enum_round_trips_through_its_spelling() {
        round_trip!(
            VisitKind,
            VisitStatus,
            JobStatus,
            TimelineKind,
            TaskKind,
            TaskStatus,
            LineKind,
            EstimateStatus,
            Role,
            Channel,
            AuditAction,
            MessageKind,
            MessageState,
            InboundKind,
            ProviderStatus,
            SmsEncoding,
            PromiseKind,
            PromiseOutcome,
        );
    }

    #[test]
    fn the_stored_spellings_are_the_ones_already_in_databases() {
        assert_eq!(MessageState::NoProvider.as_str(), "not_sent_no_provider");
        assert_eq!(VisitKind::FollowUp.as_str(), "follow_up");
        assert_eq!(JobStatus::AwaitingApproval.as_str(), "awaiting_approval");
        assert_eq!(EstimateStatus::ChangesRequested.as_str(), "changes_requested");
        assert_eq!(PromiseOutcome::NotSent.as_str(), "not_sent");
        assert_eq!(TaskKind::LowRatingFollowUp.as_str(), "low_rating_follow_up");
    }
}
