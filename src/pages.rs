//! The page templates (`templates/pages/`), compiled into the binary and
//! compiled by minijinja once, when the application is built: a template
//! that does not compile stops `Application::build`, naming it and the line.

use crate::error::Error;
use minijinja::Environment;
use serde::Serialize;

/// Every page template, by the name handlers render it with.
const SOURCES: &[(&str, &str)] = &[
    ("staff_login.html", include_str!("../templates/pages/staff_login.html")),
    ("staff_app.html", include_str!("../templates/pages/staff_app.html")),
    ("staff_board.html", include_str!("../templates/pages/staff_board.html")),
    ("staff_day.html", include_str!("../templates/pages/staff_day.html")),
    ("staff_new.html", include_str!("../templates/pages/staff_new.html")),
    ("staff_new_done.html", include_str!("../templates/pages/staff_new_done.html")),
    ("staff_job.html", include_str!("../templates/pages/staff_job.html")),
    ("staff_admin.html", include_str!("../templates/pages/staff_admin.html")),
    ("staff_problem.html", include_str!("../templates/pages/staff_problem.html")),
    ("customer_job.html", include_str!("../templates/pages/customer_job.html")),
    ("customer_notice.html", include_str!("../templates/pages/customer_notice.html")),
];

/// The compiled page templates, shared by every request (`AppState::pages`).
pub struct Pages {
    env: Environment<'static>,
}

/// A page template that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("page template {name} does not compile, line {line}: {detail}")]
pub struct BrokenTemplate {
    pub name: String,
    pub line: usize,
    pub detail: String,
}

impl Pages {
    /// Compiles every page template.
    pub fn load() -> Result<Pages, BrokenTemplate> {
        Self::compile(SOURCES)
    }

    fn compile(sources: &[(&'static str, &'static str)]) -> Result<Pages, BrokenTemplate> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        for (name, source) in sources {
            env.add_template(name, source).map_err(|e| BrokenTemplate {
                name: e.name().unwrap_or(name).to_string(),
                line: e.line().unwrap_or(0),
                detail: e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string()),
            })?;
        }
        Ok(Pages { env })
    }

    /// The page `name` filled in with `ctx`. Failing here is a bug (a
    /// template asking for something it cannot have), so it is internal.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, Error> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| Error::Internal(format!("page {name}: {e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_template_compiles() {
        let pages = Pages::load().expect("the page templates compile");
        for (name, _) in SOURCES {
            assert!(pages.env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_template_that_does_not_compile_is_named_with_its_line() {
        let sources = [
            ("fine.html", "<p>{{ text }}</p>"),
            ("staff_broken.html", "<h1>Today</h1>\n<ul>\n{% for v in visits %}\n<li>{{ v.name }</li>\n"),
        ];
        let e = Pages::compile(&sources).err().expect("refused");
        assert_eq!((e.name.as_str(), e.line), ("staff_broken.html", 4), "{e}");
        let words = e.to_string();
        assert!(words.contains("staff_broken.html") && words.contains("line 4"), "{words}");
    }

    #[test]
    fn rendering_an_unknown_page_is_an_internal_error_naming_it() {
        let pages = Pages::compile(&[("fine.html", "<p>{{ text }}</p>")]).expect("compiles");
        assert_eq!(pages.render("fine.html", serde_json::json!({"text": "hi"})).expect("renders"), "<p>hi</p>");
        let e = pages.render("missing.html", serde_json::json!({})).unwrap_err().to_string();
        assert!(e.contains("missing.html"), "{e}");
    }
}
