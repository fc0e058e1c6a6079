//! Taking a customer's call: adding the customer (every field checked at
//! once, the same rules for the JSON API and the office's pages) and
//! opening their job with the story in their own words.

use crate::db::Db;
use crate::domain::people::{self, Channel};
use crate::domain::time::Zone;
use crate::entities::{customer, job, organization};
use crate::error::{optional_text, required_text, Error, Problems};
use crate::store::customers::NewCustomer;
use crate::store::jobs::NewJob;
use chrono::{DateTime, Utc};

/// The longest story a job takes.
pub const STORY_MAX: usize = 20_000;

/// A customer as typed in (a form, a JSON body), before it is checked.
#[derive(Debug, Clone, Default)]
pub struct CustomerFields {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub channels: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub address: Option<String>,
}

/// Checks every field. Without `channels`, we use every channel the
/// customer gave us a contact for; without `timezone`, the organization's.
pub fn parse(input: CustomerFields, org: &organization::Model) -> Result<NewCustomer, Error> {
    let mut p = Problems::default();
    let name = required_text(&mut p, "name", input.name, 200);
    let phone = match input.phone.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(ph) => p.check("phone", people::parse_phone(&ph, super::staff::country_of(org)?)),
    };
    let email = match input.email.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(e) => p.check("email", people::parse_email(&e)),
    };
    let channels: Vec<Channel> = match input.channels {
        Some(list) => {
            let mut out = Vec::new();
            for c in list {
                match Channel::parse(c.trim()) {
                    Some(ch) if !out.contains(&ch) => out.push(ch),
                    Some(_) => {}
                    None => p.add("channels", format!("'{c}' is not one of {}", Channel::choices())),
                }
            }
            out
        }
        None => {
            let mut out = Vec::new();
            if phone.is_some() {
                out.push(Channel::Sms);
            }
            if email.is_some() {
                out.push(Channel::Email);
            }
            out
        }
    };
    if channels.contains(&Channel::Sms) && phone.is_none() && !p.0.iter().any(|f| f.field == "phone") {
        p.add("phone", "is required to reach this customer by sms");
    }
    if channels.contains(&Channel::Email) && email.is_none() && !p.0.iter().any(|f| f.field == "email") {
        p.add("email", "is required to reach this customer by email");
    }
    if channels.is_empty() && p.0.is_empty() {
        p.add("channels", "give a phone or an email so we can keep this customer informed");
    }
    let timezone = match input.timezone.filter(|t| !t.trim().is_empty()) {
        None => Some(crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?),
        Some(tz) => p.check("timezone", Zone::parse(&tz)),
    };
    let address = optional_text(&mut p, "address", input.address, 500).unwrap_or_default();
    p.into_result()?;
    match (name, timezone) {
        (Some(name), Some(timezone)) => Ok(NewCustomer { name, phone, email, channels, timezone, address }),
        _ => Err(Error::Internal("customer parse accepted incomplete input".into())),
    }
}

/// Adds a customer: 422 naming every bad field, and nothing is saved.
pub async fn add(
    db: &Db,
    org: &organization::Model,
    input: CustomerFields,
    now: DateTime<Utc>,
) -> Result<customer::Model, Error> {
    let new = parse(input, org)?;
    crate::store::customers::insert(db, org.id, new, now).await
}

/// Changes a customer's details: a field left out keeps its value, an
/// empty phone or email removes it; the whole is checked as when adding
/// (422 naming every bad field, nothing saved). See
/// `store::customers::update` for what a new number or address clears.
pub async fn edit(
    db: &Db,
    org: &organization::Model,
    id: i64,
    input: CustomerFields,
) -> Result<customer::Model, Error> {
    let current = crate::store::customers::get(db, org.id, id).await?;
    let keep = |new: Option<String>, old: Option<&str>| new.or_else(|| old.map(str::to_string));
    let fields = CustomerFields {
        name: keep(input.name, Some(&current.name)),
        phone: keep(input.phone, current.phone.as_deref()),
        email: keep(input.email, current.email.as_deref()),
        channels: input.channels.or_else(|| Some(current.channels.iter().map(|c| c.as_str().to_string()).collect())),
        timezone: keep(input.timezone, Some(&current.timezone)),
        address: keep(input.address, Some(&current.address)),
    };
    let new = parse(fields, org)?;
    crate::store::customers::update(db, current, new).await
}

/// Opens a job for one of the organization's customers, with the story in
/// their own words.
pub async fn open_job(
    db: &Db,
    n: &crate::messages::NotifyCtx,
    org_id: i64,
    customer_id: Option<i64>,
    title: Option<String>,
    story: Option<String>,
    now: DateTime<Utc>,
) -> Result<job::Model, Error> {
    let mut p = Problems::default();
    if customer_id.is_none() {
        p.add("customer_id", "is required");
    }
    let title = required_text(&mut p, "title", title, 200);
    let story = optional_text(&mut p, "story", story, STORY_MAX).unwrap_or_default();
    p.into_result()?;
    let (Some(customer_id), Some(title)) = (customer_id, title) else {
        return Err(Error::Internal("job parse accepted incomplete input".into()));
    };
    let job = crate::store::jobs::insert(db, org_id, NewJob { customer_id, title, story }, now).await?;
    n.live.publish_committed(db, crate::live::LiveEvent::job(&job, now)).await;
    Ok(job)
}
