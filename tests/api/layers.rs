//! Dependencies run one way. This reads every `crate::…` path in `src/`
//! (in `use` lines and inline) and fails, naming the file and the line,
//! when a module reaches up into a layer above it:
//!
//! domain (pure) ← entities, db, clock, config ← store (data access)
//!   ← messages (drafting, the outbox) ← usecases ← notify (the ticks)
//!   ← api / web / webhooks (HTTP) ← startup, main.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules a layer must never name.
fn forbidden(layer: &str) -> &'static [&'static str] {
    match layer {
        "domain" => &[
            "entities", "db", "clock", "config", "error", "store", "messages", "usecases", "notify", "limits", "api",
            "web", "webhooks", "startup", "auth", "access", "demo", "backup",
        ],
        "entities" => &["db", "store", "messages", "usecases", "notify", "api", "web", "webhooks", "startup", "auth"],
        "store" => &[
            "messages", "usecases", "notify", "limits", "api", "web", "webhooks", "startup", "auth", "access", "demo",
            "backup",
        ],
        "messages" => {
            &["usecases", "notify", "limits", "api", "web", "webhooks", "startup", "auth", "access", "demo", "backup"]
        }
        "usecases" => &["notify", "limits", "api", "web", "webhooks", "startup", "auth", "access", "demo", "backup"],
        "notify" => &["api", "web", "webhooks", "startup", "auth", "access", "demo", "backup"],
        // Who is calling and what they may touch: read from the request and
        // the database, never from the application that assembles them.
        "auth" | "access" => &["startup", "routes", "api", "web", "webhooks", "notify", "usecases", "demo", "backup"],
        // What handlers reach, and the error they answer with: below every HTTP layer.
        "state" => &["api", "web", "webhooks", "startup", "routes", "auth", "access", "demo", "backup"],
        "http_error" => &[
            "store", "messages", "usecases", "notify", "api", "web", "webhooks", "startup", "routes", "auth", "access",
            "demo", "backup", "state",
        ],
        // The HTTP layers stand side by side; `routes` assembles them.
        "api" => &["web", "webhooks", "startup", "routes"],
        "webhooks" => &["api", "web", "startup", "routes"],
        "web" => &["webhooks", "startup", "routes"],
        _ => &[],
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/store/visits.rs` → `store`; `src/db.rs` → `db`.
fn layer_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::name` outside comments, with its line number.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push((i + 1, name));
            }
            rest = after;
        }
    }
    out
}

#[test]
fn no_module_reaches_up_into_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found the sources");
    let mut violations = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let layer = layer_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read");
        for (line, name) in crate_paths(&text) {
            *seen.entry(layer.clone()).or_default() += 1;
            if forbidden(&layer).contains(&name.as_str()) {
                violations.push(format!(
                    "{}:{line}: {layer} must not use crate::{name}",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    for layer in ["store", "messages", "usecases", "notify", "api", "web"] {
        assert!(seen.get(layer).copied().unwrap_or(0) > 0, "the check saw no paths in {layer}");
    }
    assert!(violations.is_empty(), "imports against the layering:\n{}", violations.join("\n"));
}

/// Top-level modules and the ones each names.
fn module_graph() -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = layer_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read");
        for (_, name) in crate_paths(&text) {
            if name != module {
                graph.entry(module.clone()).or_default().insert(name);
            }
        }
    }
    graph
}

/// A path from `from` back to itself through the graph, if there is one.
fn circle_through(graph: &BTreeMap<String, std::collections::BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, std::collections::BTreeSet<String>>,
        goal: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut std::collections::BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == goal {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, goal, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_string()];
    walk(graph, from, from, &mut path, &mut Default::default()).then_some(path)
}

#[test]
fn no_import_circle_among_top_level_modules() {
    let graph = module_graph();
    assert!(graph.len() > 15, "found the modules");
    let circles: Vec<String> = graph.keys().filter_map(|m| circle_through(&graph, m)).map(|c| c.join(" → ")).collect();
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn the_circle_finder_finds_a_circle_and_nothing_else() {
    let graph: BTreeMap<String, std::collections::BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a", "d"]), ("d", vec![])]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
            .collect();
    assert_eq!(circle_through(&graph, "a"), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(circle_through(&graph, "d"), None);
}

#[test]
fn the_checker_catches_a_path_in_code_and_ignores_one_in_a_comment() {
    let text =
        "use crate::store::visits;\n// crate::api is only mentioned\nlet x = crate::notify::plan(); // crate::web\n";
    let names: Vec<(usize, String)> = crate_paths(text);
    assert_eq!(names, vec![(1, "store".to_string()), (3, "notify".to_string())]);
    assert!(forbidden("store").contains(&"notify"));
    assert!(forbidden("usecases").contains(&"api"));
    assert!(!forbidden("api").contains(&"usecases"));
}
