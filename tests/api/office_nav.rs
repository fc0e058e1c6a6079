//! Every office screen carries the same navigation (`staff_base.html`),
//! the message screens (outbox, unmatched texts, wording) included.

use crate::helpers::spawn_app;
use reqwest::header::COOKIE;
use reqwest::StatusCode;

#[tokio::test]
async fn every_office_screen_has_the_one_navigation_with_its_own_screen_marked() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (cookie, _) = app.session_for(admin).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, current) in [
        ("/app/outbox", Some("/app/outbox")),
        ("/app/inbox", Some("/app/inbox")),
        ("/app/wording", Some("/app/wording")),
        ("/app/customers", Some("/app/customers")),
        ("/app/settings", Some("/app/settings")),
        (&format!("/app/jobs/{job}") as &str, Some("/app/jobs")),
    ] {
        let r = client.get(app.url(path)).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let html = r.text().await.unwrap();
        let header =
            &html[html.find("<nav aria-label=\"Main\">").unwrap_or_else(|| panic!("{path}: no main navigation"))..];
        let header = &header[..header.find("</nav>").unwrap()];
        for (href, label) in allowed("admin") {
            let marked = if current == Some(href) { " aria-current=\"page\"" } else { "" };
            assert!(
                header.contains(&format!("<a href=\"{}\"{marked}>{label}</a>", href.replace('/', "&#x2f;"))),
                "{path}: {label} in {header}"
            );
        }
        assert_eq!(html.matches("<header").count(), 1, "{path}: one header");
        assert!(html.contains("action=\"/logout\""), "{path}: sign out from every screen");
    }
}

/// Every screen of the main navigation, in its order.
const NAV: [(&str, &str); 11] = [
    ("/app", "Today"),
    ("/app/day", "My day"),
    ("/app/board", "Board"),
    ("/app/new", "New call"),
    ("/app/customers", "Customers"),
    ("/app/jobs", "Jobs"),
    ("/app/outbox", "Outbox"),
    ("/app/inbox", "Unmatched texts"),
    ("/app/wording", "Message wording"),
    ("/app/staff", "Staff"),
    ("/app/settings", "Settings"),
];

/// The screens a role may open, as its navigation lists them.
fn allowed(role: &str) -> Vec<(&'static str, &'static str)> {
    NAV.iter()
        .copied()
        .filter(|(href, _)| match (role, *href) {
            ("technician" | "estimator", href) => href == "/app/day",
            (_, "/app/day") => false,
            ("dispatcher", "/app/staff" | "/app/settings") => false,
            _ => true,
        })
        .collect()
}

/// The main navigation of a page: each link's address, words and whether
/// it is marked as the screen shown.
fn main_nav(path: &str, html: &str) -> Vec<(String, String, bool)> {
    let start = html.find("<nav aria-label=\"Main\">").unwrap_or_else(|| panic!("{path}: no main navigation"));
    let nav = &html[start..];
    let nav = &nav[..nav.find("</nav>").unwrap()];
    nav.split("<a href=\"")
        .skip(1)
        .map(|a| {
            let href = a[..a.find('"').unwrap()].replace("&#x2f;", "/");
            let label = a[a.find('>').unwrap() + 1..a.find("</a>").unwrap()].to_string();
            (href, label, a[..a.find('>').unwrap()].contains("aria-current=\"page\""))
        })
        .collect()
}

/// The navigation `role` should see with `current` marked.
fn expected(role: &str, current: &str) -> Vec<(String, String, bool)> {
    allowed(role).into_iter().map(|(h, l)| (h.to_string(), l.to_string(), h == current)).collect()
}

#[tokio::test]
async fn every_role_sees_only_the_screens_it_may_open_with_the_one_it_is_on_marked() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let people = [
        ("admin", admin),
        ("dispatcher", app.staff("Dana Dispatch", "dispatcher", "America/New_York").await),
        ("estimator", app.staff("Erin Estimate", "estimator", "America/New_York").await),
        ("technician", lena),
    ];
    app.book(job, &[lena], "2026-11-20T11:00:00-05:00", "2026-11-20T13:00:00-05:00", 60).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (role, id) in people {
        let (cookie, _) = app.session_for(id).await;
        let name = staff_name(&app, id).await;
        for (path, _) in NAV {
            let r = client.get(app.url(path)).header(COOKIE, &cookie).send().await.unwrap();
            let may = allowed(role).iter().any(|(h, _)| *h == path);
            let status = r.status();
            if role == "technician" || role == "estimator" {
                if path == "/app" {
                    // A field person's home is their day.
                    assert_eq!(status, StatusCode::SEE_OTHER, "{role} {path}");
                    assert_eq!(r.headers()["location"], "/app/day", "{role}");
                    continue;
                }
            }
            let html = r.text().await.unwrap();
            if path == "/app/day" && !may {
                // The office may look at a day (nobody in the office is
                // sent on visits), but it is not one of their screens.
                assert_eq!(status, StatusCode::OK, "{role} {path}");
                assert_eq!(main_nav(path, &html), expected(role, ""), "{role} {path}");
                continue;
            }
            let want = if may { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(status, want, "{role} {path}: {html}");
            // Refused or not, the page carries the person's own navigation:
            // its screen marked when it is one of theirs, nothing otherwise.
            assert_eq!(main_nav(path, &html), expected(role, if may { path } else { "" }), "{role} {path}");
            assert_eq!(html.matches("<header").count(), 1, "{role} {path}: one header");
            assert!(html.contains("action=\"/logout\""), "{role} {path}: sign out");
            assert!(html.contains(&name), "{role} {path}: who is signed in");
            assert!(html.contains(&format!("· {role}</small>")), "{role} {path}: and as what");
            if !may {
                assert!(html.contains("role=\"alert\""), "{role} {path}: says why: {html}");
            }
        }
    }
}

async fn staff_name(app: &crate::helpers::TestApp, id: i64) -> String {
    app.get(&format!("/api/v1/staff/{id}")).await.body["name"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_refused_reply_or_resend_is_said_inside_the_navigation() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (cookie, csrf) = app.session_for(admin).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client
        .post(app.url(&format!("/app/jobs/{job}/reply")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("body", " "), ("sms", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your message was not sent") && html.contains("body"), "{html}");
    assert_eq!(main_nav("reply", &html), expected("admin", ""));
    assert!(html.contains("href=\"/app\">Back to Today</a>"), "{html}");
    let r = client
        .post(app.url("/app/messages/999999/resend"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = r.text().await.unwrap();
    assert!(html.contains("There is no such message."), "{html}");
    assert_eq!(main_nav("resend", &html), expected("admin", ""));
}
