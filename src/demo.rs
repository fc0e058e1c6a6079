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
use chrono::{DateTime, Days, NaiveTime, Utc};
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
    DemoStaff { name: "Tomás Reyes", role: Role::Technician, phone: "+1 213 555 0105", email: "tomas@harborpine.example.test", tz: "America/Los_Angeles",
        bio: "Tomás runs our West Coast crew. Twenty years of plumbing and drywall; he'll show you exactly where the water got in." },
];

struct DemoJob {
    customer: &'static str,
    phone: Option<&'static str>,
    email: Option<&'static str>,
    tz: &'static str,
    address: &'static str,
    title: &'static str,
    story: &'static str,
    /// (kind, staff index, days from today, local start hour, window hours, duration minutes)
    visits: &'static [(VisitKind, usize, u64, u32, i64, i32)],
    note: Option<&'static str>,
}

const JOBS: &[DemoJob] = &[
    DemoJob {
        customer: "Nadia Brooks", phone: Some("+1 212 555 0142"), email: Some("nadia.brooks@example.test"), tz: "America/New_York",
        address: "48 Linden Street, Brooklyn, NY 11221",
        title: "Basement flooded after the storm",
        story: "Water came up through the floor drain overnight. About two inches across the whole basement, the carpet is soaked and the drywall is wet about a foot up. My kids' playroom is down there. The first company I called never showed up. I just want to know someone is actually coming.",
        visits: &[(VisitKind::Estimate, 2, 1, 9, 2, 60), (VisitKind::Work, 3, 2, 8, 2, 240)],
        note: Some("Two dehumidifiers and four air movers are reserved for your basement."),
    },
    DemoJob {
        customer: "Walter Kim", phone: Some("+1 213 555 0178"), email: None, tz: "America/Los_Angeles",
        address: "2210 Alvarado Terrace, Los Angeles, CA 90006",
        title: "Ceiling stain under the upstairs bathroom",
        story: "There's a brown ring on the kitchen ceiling right under the upstairs shower, and it's getting bigger. I'm 78 and I'd like someone to tell me plainly what it will cost before anything gets torn out.",
        visits: &[(VisitKind::Estimate, 4, 1, 13, 2, 90)],
        note: None,
    },
    DemoJob {
        customer: "Ananya Iyer", phone: None, email: Some("ananya.iyer@example.test"), tz: "Asia/Kolkata",
        address: "17 Orchard Lane, Montclair, NJ 07042",
        title: "Musty smell before new tenants move in",
        story: "I look after my late father's house from Bengaluru. The new tenants move in on the 1st and they mentioned a musty smell in the back bedroom. I can't be there, so please send me photos and keep me posted. Mornings and evenings my time are easiest.",
        visits: &[(VisitKind::Estimate, 2, 1, 14, 2, 60)],
        note: None,
    },
    DemoJob {
        customer: "Oliver Grant", phone: Some("+61 491 570 156"), email: Some("oliver.grant@example.test"), tz: "Australia/Sydney",
        address: "5 Dune Road, Montauk, NY 11954",
        title: "Smoke damage in the holiday-house kitchen",
        story: "A pan fire in the kitchen of our Montauk house while friends were staying. The fire is out and nobody was hurt, but the cabinets and ceiling are black and the whole house smells of smoke. We're in Sydney until March.",
        visits: &[(VisitKind::Estimate, 2, 2, 10, 3, 90)],
        note: Some("Insurance claim number received; we will send the estimate to the adjuster too."),
    },
];

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
            working_hours: default_working_hours(),
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
                working_hours: default_working_hours(),
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
        for &(kind, staff, days, hour, hours, duration) in j.visits {
            // Visits happen at the property: windows are set in the crew's zone.
            let crew_zone = Zone::parse(STAFF[staff].tz).map_err(Error::Internal)?;
            let start = local_at(crew_zone, crew_zone.date_of(now), days, hour);
            crate::usecases::visits::book(
                db,
                notify,
                &created.organization,
                job.id,
                crate::store::visits::NewVisit {
                    kind,
                    staff_ids: vec![staff_ids[staff]],
                    window_start: start,
                    window_end: start + chrono::Duration::hours(hours),
                    duration_minutes: duration,
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

/// `hour`:00 local time, `days` after `today`, in `zone` (the first valid
/// instant if that hour falls in a DST gap).
fn local_at(zone: Zone, today: chrono::NaiveDate, days: u64, hour: u32) -> DateTime<Utc> {
    let date = today.checked_add_days(Days::new(days)).unwrap_or(today);
    let day_start = zone.start_of_day(date);
    let local = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN));
    use chrono::TimeZone;
    zone.0
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(day_start + chrono::Duration::hours(hour as i64))
}
