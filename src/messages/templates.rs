//! Message templates: `templates/messages/<kind>/{subject.txt, sms.txt,
//! email.txt, email.html}`, rendered with minijinja. The copies in the
//! repository are compiled in; a directory given by `KEPT_TEMPLATES_DIR`
//! (or `./templates` when present) overrides them file by file, so a company
//! can change the wording without touching Rust.

use crate::domain::messaging::MessageKind;
use minijinja::Environment;
use serde::Serialize;
use std::path::Path;

const FILES: &[&str] = &["subject.txt", "sms.txt", "email.txt", "email.html"];

/// One list of kinds gives both the names and the compiled-in copies.
macro_rules! kinds {
    ($($kind:literal),* $(,)?) => {
        /// Every message kind, one folder each under `templates/messages/`.
        pub const KINDS: &[&str] = &[$($kind),*];
        const EMBEDDED: &[(&str, &str, &str)] = &[$(
            ($kind, "subject.txt", include_str!(concat!("../../templates/messages/", $kind, "/subject.txt"))),
            ($kind, "sms.txt", include_str!(concat!("../../templates/messages/", $kind, "/sms.txt"))),
            ($kind, "email.txt", include_str!(concat!("../../templates/messages/", $kind, "/email.txt"))),
            ($kind, "email.html", include_str!(concat!("../../templates/messages/", $kind, "/email.html"))),
        )*];
    };
}

kinds!(
    "introduction",
    "status_update",
    "reminder",
    "on_my_way",
    "reply",
    "dispatcher_alert",
    "pricing_breakdown",
    "running_late",
    "thank_you",
    "follow_up_resolution",
    "password_reset",
    "visit_rescheduled",
    "visit_cancelled",
    "visit_reassigned",
    "job_cancelled",
);

/// The rendered email parts.
#[derive(Debug, Clone)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

#[derive(Debug, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct TemplateError {
    pub name: String,
    pub message: String,
}

impl Templates {
    /// The compiled-in templates.
    pub fn embedded() -> Result<Templates, TemplateError> {
        Self::load(None)
    }

    /// Compiled-in templates, each overridden by `<dir>/messages/<kind>/<file>` if it exists.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(false);
        for (kind, file, text) in EMBEDDED {
            let name = format!("{kind}/{file}");
            let source = dir
                .map(|d| d.join("messages").join(kind).join(file))
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_else(|| text.to_string());
            env.add_template_owned(name.clone(), source)
                .map_err(|e| TemplateError { name: name.clone(), message: e.to_string() })?;
        }
        debug_assert_eq!(EMBEDDED.len(), KINDS.len() * FILES.len());
        Ok(Templates { env })
    }

    fn render(&self, name: &str, ctx: &impl Serialize) -> Result<String, TemplateError> {
        let t = self.env.get_template(name).map_err(|e| TemplateError { name: name.into(), message: e.to_string() })?;
        t.render(ctx).map_err(|e| TemplateError { name: name.into(), message: format!("{e:#}") })
    }

    /// The SMS body: plain text, whitespace tidied (blank lines collapsed).
    pub fn sms(&self, kind: MessageKind, ctx: &impl Serialize) -> Result<String, TemplateError> {
        Ok(tidy(&self.render(&format!("{kind}/sms.txt"), ctx)?))
    }

    pub fn email(&self, kind: MessageKind, ctx: &impl Serialize) -> Result<Email, TemplateError> {
        Ok(Email {
            subject: self.render(&format!("{kind}/subject.txt"), ctx)?.lines().next().unwrap_or("").trim().to_string(),
            text: tidy(&self.render(&format!("{kind}/email.txt"), ctx)?),
            html: self.render(&format!("{kind}/email.html"), ctx)?.trim().to_string(),
        })
    }
}

/// Trims trailing spaces and collapses runs of blank lines that optional
/// template sections leave behind.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_blank_runs_and_trims() {
        assert_eq!(tidy("  a  \n\n\n\nb\n\n"), "a\n\nb");
    }

    #[test]
    fn a_directory_overrides_one_file_and_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("kept-templates-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("messages/reminder")).unwrap();
        std::fs::write(
            dir.join("messages/reminder/sms.txt"),
            "See you tomorrow, {{ customer.first_name }}. {{ link }}",
        )
        .unwrap();
        let t = Templates::load(Some(&dir)).unwrap();
        let ctx = serde_json::json!({"customer": {"first_name": "Nadia"}, "link": "https://k.example/c/x"});
        assert_eq!(t.sms(MessageKind::Reminder, &ctx).unwrap(), "See you tomorrow, Nadia. https://k.example/c/x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_message_kind_has_its_templates_and_no_folder_is_left_over() {
        let kinds: Vec<&str> = MessageKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, KINDS);
    }
}
