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
    let nav = [
        ("/app", "Today"),
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
        for (href, label) in nav {
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
