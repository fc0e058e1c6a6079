//! Organization creation for the CLI, and the demo company a newcomer sees.
//!
//! The demo uses fictional 555-01xx numbers and example.test addresses, so
//! even by mistake it can never text or mail a real person.

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::domain::job::TimelineKind;
use crate::domain::people::{default_working_hours, parse_email, parse_phone, Role};
use crate::domain::time::Zone;
use crate::domain::visit::VisitKind;
use crate::error::Error;
use crate::store::customers::NewCustomer;
use crate::store::jobs::NewJob;
use crate::store::orgs::{CreatedOrganization, NewOrganization};
use crate::store::staff::NewStaff;
use crate::store::timeline::Event;
use chrono::{DateTime, Datelike, NaiveTime, Utc};
use phonenumber::country::Id::US;

/// `kept org create`: validates like the API does, then creates the
/// organization, its admin, and an admin token.
pub async fn create_org(
    db: &Db,
    clock: &dyn Clock,
    name: &str,
    timezone: &str,
    admin_email: &str,
    admin_name: Option<String>,
) -> Result<CreatedOrganization, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("--name must not be empty".into());
    }
    let zone = Zone::parse(timezone).map_err(|e| format!("--timezone {e}"))?;
    let email = parse_email(admin_email).map_err(|e| format!("--admin-email {e}"))?;
    let admin_name = admin_name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("admin").to_string());
    let admin = NewStaff {
        name: admin_name,
        role: Role::Admin,
        phone: None,
        email,
        photo_url: None,
        bio: String::new(),
        timezone: zone,
        working_hours: default_working_hours(),
    };
    let org = NewOrganization {
        name: name.to_string(),
        timezone: zone,
        mission_statement: String::new(),
        phone: None,
        email: None,
    };
    crate::store::orgs::create_with_admin(db, org, admin, clock.now()).await.map_err(|e| match e {
        Error::Internal(cause) => cause,
        other => other.to_string(),
    })
}

struct DemoStaff {
    name: &'static str,
    role: Role,
    phone: &'static str,
    email: &'static str,
    tz: &'static str,
    bio: &'static str,
}

const STAFF: &[DemoStaff] = &[
    DemoStaff { name: "Dana Whitfield", role: Role::Admin, phone: "+1 212 555 0101", email: "dana@harborpine.example.test", tz: "America/New_York",
        bio: "Dana started Harbor & Pine after her own basement flooded and nobody called her back. She reads every complaint herself." },
    DemoStaff { name: "Priya Raman", role: Role::Dispatcher, phone: "+1 212 555 0102", email: "priya@harborpine.example.test", tz: "America/New_York",
        bio: "Priya answers the phone and keeps everyone's day on track. If you called us, you probably talked to her." },
    DemoStaff { name: "Marcus Bell", role: Role::Estimator, phone: "+1 212 555 0103", email: "marcus@harborpine.example.test", tz: "America/New_York",
        bio: "Marcus has walked through more flooded basements than he can count. He measures, photographs, and writes you a line-by-line price: no guesses." },
    DemoStaff { name: "Lena Okafor", role: Role::Technician, phone: "+1 212 555 0104", email: "lena@harborpine.example.test", tz: "America/New_York",
        bio: "Lena leads our drying crew and is certified in water damage restoration. She will explain every fan and dehumidifier she sets up." },
    DemoStaff { name: "Tomás Reyes", role: Role::Technician, phone: "+1 631 555 0105", email: "tomas@harborpine.example.test", tz: "America/New_York",
        bio: "Tomás runs our Long Island crew. Twenty years of plumbing and drywall; he'll show you exactly where the water got in." },
    DemoStaff { name: "Grace Liu", role: Role::Estimator, phone: "+1 201 555 0106", email: "grace@harborpine.example.test", tz: "America/New_York",
        bio: "Grace covers New Jersey and the East End. She used to adjust insurance claims, so she writes estimates adjusters accept the first time." },
];

/// Which day a demo visit falls on, in the office's zone: today (moved to
/// the next working day if its window has already begun), or the next
/// working day.
#[derive(Clone, Copy)]
enum Day {
    Today,
    Next,
}

struct DemoJob {
    customer: &'static str,
    phone: Option<&'static str>,
    email: Option<&'static str>,
    tz: &'static str,
    address: &'static str,
    title: &'static str,
    story: &'static str,
    /// (kind, staff index, day, local start hour, window hours, duration minutes)
    visits: &'static [(VisitKind, usize, Day, u32, i64, i32)],
    /// Booked around now, so the crew is running late on first start.
    running_late: Option<(VisitKind, usize, i32)>,
    note: Option<&'static str>,
    /// An estimate written by a staff member (index) and sent to the
    /// customer: its lines, its taxes (name, percent) and its notes.
    estimate: Option<(usize, &'static [DemoLine], &'static [DemoTax], &'static str)>,
}

/// A line of a demo estimate: kind, description, quantity, unit, unit
/// price in cents, and whether the customer may add it or leave it out.
type DemoLine = (&'static str, &'static str, &'static str, &'static str, i64, bool);

/// A tax of a demo estimate: its name and its rate in percent as typed.
type DemoTax = (&'static str, &'static str);

/// Hector is in Jersey City: New Jersey's sales tax, 6.625%, a rate that
/// needs three decimals of a percent.
const NJ_SALES_TAX: &[DemoTax] = &[("NJ sales tax", "6.625")];

/// Hector's estimate for the rest of the work, with one item he may add: a
/// newcomer sees an optional item on the office's and the customer's side.
const HECTOR_ESTIMATE: &[DemoLine] = &[
    ("labor", "Take out the swollen cabinet floor and the wet laminate", "6", "h", 8500, false),
    ("equipment", "Drying: 2 dehumidifiers and 4 air movers", "3", "day", 18000, false),
    ("material", "Antimicrobial treatment of the open cavity", "1", "", 14500, false),
    ("labor", "New cabinet floor, cut and fitted", "1", "", 32000, true),
];

const JOBS: &[DemoJob] = &[
    DemoJob {
        customer: "Nadia Brooks", phone: Some("+1 212 555 0142"), email: Some("nadia.brooks@example.test"), tz: "America/New_York",
        address: "48 Linden Street, Brooklyn, NY 11221",
        title: "Basement flooded after the storm",
        story: "Water came up through the floor drain overnight. About two inches across the whole basement, the carpet is soaked and the drywall is wet about a foot up. My kids' playroom is down there. The first company I called never showed up. I just want to know someone is actually coming.",
        visits: &[(VisitKind::Estimate, 2, Day::Today, 9, 2, 60), (VisitKind::Work, 3, Day::Next, 8, 2, 240)],
        running_late: None,
        note: Some("Two dehumidifiers and four air movers are reserved for your basement."),
        estimate: None,
    },
    DemoJob {
        customer: "Walter Kim", phone: Some("+1 718 555 0178"), email: None, tz: "America/New_York",
        address: "34-12 81st Street, Jackson Heights, NY 11372",
        title: "Ceiling stain under the upstairs bathroom",
        story: "There's a brown ring on the kitchen ceiling right under the upstairs shower, and it's getting bigger. I'm 78 and I'd like someone to tell me plainly what it will cost before anything gets torn out.",
        visits: &[],
        running_late: Some((VisitKind::Estimate, 4, 90)),
        note: None,
        estimate: None,
    },
    DemoJob {
        customer: "Hector Alvarez", phone: Some("+1 201 555 0131"), email: Some("hector.alvarez@example.test"), tz: "America/New_York",
        address: "212 Grove Street, Jersey City, NJ 07302",
        title: "Burst pipe under the kitchen sink",
        story: "The pipe under the kitchen sink split while we were at work. The cabinet floor is swollen and water ran under the laminate into the dining room. We shut the valve. We have a baby at home, so we need the wet floor out fast.",
        visits: &[(VisitKind::Work, 3, Day::Today, 12, 2, 180)],
        running_late: None,
        note: None,
        estimate: Some((
            5,
            HECTOR_ESTIMATE,
            NJ_SALES_TAX,
            "The dry-out starts today. The new cabinet floor is up to you: tick it and we fit it once everything is dry, or leave it for your own carpenter.",
        )),
    },
    DemoJob {
        customer: "Ananya Iyer", phone: None, email: Some("ananya.iyer@example.test"), tz: "Asia/Kolkata",
        address: "17 Orchard Lane, Montclair, NJ 07042",
        title: "Musty smell before new tenants move in",
        story: "I look after my late father's house from Bengaluru. The new tenants move in on the 1st and they mentioned a musty smell in the back bedroom. I can't be there, so please send me photos and keep me posted. Mornings and evenings my time are easiest.",
        visits: &[(VisitKind::Estimate, 5, Day::Today, 13, 2, 60)],
        running_late: None,
        note: None,
        estimate: None,
    },
    DemoJob {
        customer: "Oliver Grant", phone: Some("+61 491 570 156"), email: Some("oliver.grant@example.test"), tz: "Australia/Sydney",
        address: "5 Dune Road, Montauk, NY 11954",
        title: "Smoke damage in the holiday-house kitchen",
        story: "A pan fire in the kitchen of our Montauk house while friends were staying. The fire is out and nobody was hurt, but the cabinets and ceiling are black and the whole house smells of smoke. We're in Sydney until March.",
        visits: &[(VisitKind::Estimate, 5, Day::Next, 10, 3, 90)],
        running_late: None,
        note: Some("Insurance claim number received; we will send the estimate to the adjuster too."),
        estimate: None,
    },
    DemoJob {
        customer: "Rosa Delgado", phone: Some("+1 718 555 0163"), email: None, tz: "America/New_York",
        address: "1450 Grand Concourse, Bronx, NY 10452",
        title: "Sump pump alarm keeps going off",
        story: "The alarm on the sump pump has gone off three times since Sunday. The pit is almost full and I can hear the pump running but the water isn't going down. My landlord said to call someone. I'm home after 3 every day.",
        visits: &[],
        running_late: None,
        note: None,
        estimate: None,
    },
];

/// Monday to Saturday, 08:00–18:00: restoration crews work Saturdays.
fn demo_working_hours() -> crate::domain::people::WorkingHours {
    crate::domain::people::WEEKDAYS[..6]
        .iter()
        .map(|d| (d.to_string(), vec![["08:00".to_string(), "18:00".to_string()]]))
        .collect()
}

/// What the demo seed created: the organization with the admin's API token,
/// and a password for the admin to sign in to the web UI (both shown once).
pub struct Seeded {
    pub created: CreatedOrganization,
    pub admin_password: String,
}

/// Seeds the demo company if the database has no organization yet.
pub async fn seed_if_empty(
    db: &Db,
    notify: &crate::notify::NotifyCtx,
    clock: &dyn Clock,
    settings: &Settings,
) -> Result<Option<Seeded>, Error> {
    if crate::store::orgs::count(db).await? > 0 {
        return Ok(None);
    }
    let now = clock.now();
    let ny = Zone::parse("America/New_York").map_err(Error::Internal)?;
    let phone = |p: &str| parse_phone(p, US).map_err(|e| Error::Internal(format!("demo phone {p}: {e}")));
    let avatar = |name: &str| {
        let initials: String = name.split_whitespace().filter_map(|w| w.chars().next()).collect();
        format!("{}/avatars/{initials}.svg", settings.public_url)
    };
    let org = NewOrganization {
        name: "Harbor & Pine Restoration".into(),
        timezone: ny,
        mission_statement: "We fix what water, fire and time break in your home, and we tell you what is happening every step of the way, twice a day, until it's done.".into(),
        phone: Some(phone("+1 212 555 0100")?),
        email: Some("office@harborpine.example.test".into()),
    };
    let admin = &STAFF[0];
    let created = crate::store::orgs::create_with_admin(
        db,
        org,
        NewStaff {
            name: admin.name.into(),
            role: admin.role,
            phone: Some(phone(admin.phone)?),
            email: admin.email.into(),
            photo_url: Some(avatar(admin.name)),
            bio: admin.bio.into(),
            timezone: Zone::parse(admin.tz).map_err(Error::Internal)?,
            working_hours: demo_working_hours(),
        },
        now,
    )
    .await?;
    let org_id = created.organization.id;
    let mut staff_ids = vec![created.admin.id];
    for s in &STAFF[1..] {
        let row = crate::store::staff::insert(
            db,
            org_id,
            NewStaff {
                name: s.name.into(),
                role: s.role,
                phone: Some(phone(s.phone)?),
                email: s.email.into(),
                photo_url: Some(avatar(s.name)),
                bio: s.bio.into(),
                timezone: Zone::parse(s.tz).map_err(Error::Internal)?,
                working_hours: demo_working_hours(),
            },
            now,
        )
        .await?;
        staff_ids.push(row.id);
    }
    for j in JOBS {
        let zone = Zone::parse(j.tz).map_err(Error::Internal)?;
        let mut channels = Vec::new();
        if j.phone.is_some() {
            channels.push(crate::domain::people::Channel::Sms);
        }
        if j.email.is_some() {
            channels.push(crate::domain::people::Channel::Email);
        }
        let customer = crate::store::customers::insert(
            db,
            org_id,
            NewCustomer {
                name: j.customer.into(),
                phone: j.phone.map(phone).transpose()?,
                email: j.email.map(String::from),
                channels,
                timezone: zone,
                address: j.address.into(),
            },
            now,
        )
        .await?;
        let job = crate::store::jobs::insert(
            db,
            org_id,
            NewJob { customer_id: customer.id, title: j.title.into(), story: j.story.into() },
            now,
        )
        .await?;
        // Visits happen at the property, in the office's metro: windows are
        // business hours in the office's zone, today and the next working day.
        let today = ny.date_of(now);
        let next = next_working_day(today);
        let mut bookings: Vec<(VisitKind, usize, DateTime<Utc>, DateTime<Utc>, i32)> = Vec::new();
        for &(kind, staff, day, hour, hours, duration) in j.visits {
            let mut start = local_at(ny, if matches!(day, Day::Today) { today } else { next }, hour);
            if start <= now {
                start = local_at(ny, next, hour);
            }
            bookings.push((kind, staff, start, start + chrono::Duration::hours(hours), duration));
        }
        if let Some((kind, staff, duration)) = j.running_late {
            // The window began an hour ago and closes in 20 minutes, and
            // nobody is on the way: the ledger flags it at risk at once.
            let end = round_to_five_minutes(now + chrono::Duration::minutes(20));
            bookings.push((kind, staff, end - chrono::Duration::minutes(80), end, duration));
        }
        for (kind, staff, window_start, window_end, duration_minutes) in bookings {
            crate::usecases::visits::book(
                db,
                notify,
                &created.organization,
                job.id,
                crate::store::visits::NewVisit {
                    kind,
                    staff_ids: vec![staff_ids[staff]],
                    window_start,
                    window_end,
                    duration_minutes,
                },
                now,
            )
            .await?;
        }
        if let Some(note) = j.note {
            crate::store::timeline::record(
                db,
                org_id,
                Event {
                    job_id: job.id,
                    visit_id: None,
                    kind: TimelineKind::Note,
                    summary: note.into(),
                    data: serde_json::json!({"text": note}),
                },
                now,
            )
            .await?;
        }
        if let Some((author, lines, taxes, notes)) = j.estimate {
            let fields = crate::usecases::estimates::EstimateFields {
                notes: Some(notes.into()),
                taxes: Some(
                    taxes
                        .iter()
                        .map(|&(name, percent)| crate::usecases::estimates::TaxFields {
                            name: Some(name.into()),
                            rate_percent: Some(serde_json::Value::String(percent.into())),
                            rate_bp: None,
                        })
                        .collect(),
                ),
                lines: Some(
                    lines
                        .iter()
                        .map(|&(kind, description, quantity, unit, price, optional)| {
                            crate::usecases::estimates::LineFields {
                                kind: Some(kind.into()),
                                description: Some(description.into()),
                                quantity: Some(serde_json::Value::String(quantity.into())),
                                unit: Some(unit.into()),
                                unit_price_minor: Some(price),
                                optional: Some(optional),
                            }
                        })
                        .collect(),
                ),
                ..Default::default()
            };
            let draft = crate::usecases::estimates::parse(fields, &created.organization)?;
            let written =
                crate::store::estimates::create(db, org_id, job.id, draft, Some(staff_ids[author]), now).await?;
            crate::usecases::estimates::send(db, notify, &created.organization, written.estimate.id, now).await?;
        }
    }
    // A random password for the demo admin, printed once by `kept serve`.
    let admin_password = crate::auth::new_token()[5..21].to_string();
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        crate::entities::staff::Entity::update_many()
            .col_expr(
                crate::entities::staff::Column::PasswordHash,
                sea_orm::sea_query::Expr::value(crate::store::sessions::hash_password(&admin_password).await?),
            )
            .filter(crate::entities::staff::Column::Id.eq(created.admin.id))
            .exec(db)
            .await?;
    }
    Ok(Some(Seeded { created, admin_password }))
}

/// The day after `today`, skipping Sunday (the demo crews work Saturdays).
fn next_working_day(today: chrono::NaiveDate) -> chrono::NaiveDate {
    let next = today.succ_opt().unwrap_or(today);
    if next.weekday() == chrono::Weekday::Sun {
        next.succ_opt().unwrap_or(next)
    } else {
        next
    }
}

fn round_to_five_minutes(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    let rounded = secs - secs.rem_euclid(300);
    DateTime::from_timestamp(rounded, 0).unwrap_or(t)
}

/// `hour`:00 local time on `date` in `zone` (the first valid instant if
/// that hour falls in a DST gap).
fn local_at(zone: Zone, date: chrono::NaiveDate, hour: u32) -> DateTime<Utc> {
    let day_start = zone.start_of_day(date);
    let local = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN));
    use chrono::TimeZone;
    zone.0
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(day_start + chrono::Duration::hours(hour as i64))
}
