//! The translation layer. Every user-visible string is looked up here by key
//! in the translation files under `assets/i18n/<lang>/` (TOML, one file per
//! area, nested tables flattened to dotted keys). Missing keys fall back
//! to English, then to the key itself, so a gap shows but never breaks a page.

use std::collections::HashMap;

use rust_embed::RustEmbed;

use crate::domain::user::Lang;

#[derive(RustEmbed)]
#[folder = "assets/i18n"]
struct Files;

/// Every language's strings, loaded once at start-up.
#[derive(Debug)]
pub struct Catalog {
    strings: HashMap<Lang, HashMap<String, String>>,
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut HashMap<String, String>,
) -> Result<(), String> {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(s) => {
                out.insert(full, s.clone());
            }
            toml::Value::Table(t) => flatten(&full, t, out)?,
            _ => return Err(format!("{full}: translations must be strings")),
        }
    }
    Ok(())
}

impl Catalog {
    /// Loads the embedded translation files: every `assets/i18n/<lang>/*.toml`
    /// (one file per area, so areas do not share a file).
    pub fn load() -> Result<Self, String> {
        let mut strings = HashMap::new();
        for lang in Lang::ALL {
            let prefix = format!("{}/", lang.tag());
            let mut names: Vec<String> = Files::iter()
                .filter(|name| name.starts_with(&prefix) && name.ends_with(".toml"))
                .map(|name| name.into_owned())
                .collect();
            names.sort();
            if names.is_empty() {
                return Err(format!("no translation files for {}", lang.tag()));
            }
            let mut map = HashMap::new();
            for name in names {
                let file =
                    Files::get(&name).ok_or_else(|| format!("missing translation file {name}"))?;
                let text = std::str::from_utf8(&file.data).map_err(|e| format!("{name}: {e}"))?;
                let table: toml::Table =
                    toml::from_str(text).map_err(|e| format!("{name}: {e}"))?;
                let mut part = HashMap::new();
                flatten("", &table, &mut part).map_err(|e| format!("{name}: {e}"))?;
                for (key, value) in part {
                    if map.insert(key.clone(), value).is_some() {
                        return Err(format!("{name}: {key} is defined twice"));
                    }
                }
            }
            strings.insert(lang, map);
        }
        Ok(Self { strings })
    }

    /// The strings of one language.
    pub fn tr(&self, lang: Lang) -> Tr<'_> {
        Tr {
            lang,
            strings: self.strings.get(&lang),
            english: self.strings.get(&Lang::En),
        }
    }

    /// Every key of one language, for completeness tests.
    pub fn keys(&self, lang: Lang) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .strings
            .get(&lang)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        keys
    }
}

/// Looks up strings in one language.
#[derive(Debug, Clone, Copy)]
pub struct Tr<'a> {
    lang: Lang,
    strings: Option<&'a HashMap<String, String>>,
    english: Option<&'a HashMap<String, String>>,
}

impl<'a> Tr<'a> {
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The string for `key`.
    pub fn t<'k>(&self, key: &'k str) -> &'k str
    where
        'a: 'k,
    {
        self.strings
            .and_then(|m| m.get(key))
            .or_else(|| self.english.and_then(|m| m.get(key)))
            .map_or(key, String::as_str)
    }

    /// The string for `key` with each `{name}` replaced by its value.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_language_has_every_key() {
        let catalog = catalog();
        let english = catalog.keys(Lang::En);
        assert!(english.len() > 50);
        for lang in Lang::ALL {
            assert_eq!(catalog.keys(lang), english, "{lang:?} differs from English");
        }
    }

    #[test]
    fn placeholders_are_the_same_in_every_language() {
        let catalog = catalog();
        let holes = |s: &str| {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                .collect();
            v.sort();
            v
        };
        for key in catalog.keys(Lang::En) {
            let en = holes(catalog.tr(Lang::En).t(key));
            let zh = holes(catalog.tr(Lang::ZhTw).t(key));
            assert_eq!(en, zh, "{key}");
        }
    }

    /// Every string literal in src/ that looks like a translation key (it
    /// starts with one of the files' top-level sections) must exist.
    #[test]
    fn every_key_used_in_the_code_exists() {
        let catalog = catalog();
        let keys = catalog.keys(Lang::En);
        let sections: Vec<String> = keys
            .iter()
            .filter_map(|k| k.split_once('.').map(|(s, _)| format!("{s}.")))
            .collect();
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    stack.push(entry.path());
                }
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            // Every literal passed straight to a lookup must exist, whatever
            // its section.
            let calls: &[&str] = if path.ends_with("i18n.rs") {
                &[]
            } else {
                &[".t(\"", ".f(\""]
            };
            for call in calls {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let literal = rest.split('"').next().unwrap_or("");
                    if !literal.contains('{') && !keys.contains(&literal) {
                        missing.push(format!("{}: {literal}", path.display()));
                    }
                }
            }
            // config.rs names configuration keys (`mail.host`), which
            // share a section name with the mail translations.
            if path.ends_with("config.rs") {
                continue;
            }
            for literal in text.split('"').skip(1).step_by(2) {
                let looks_like_key = sections.iter().any(|s| literal.starts_with(s.as_str()))
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c))
                    && !literal.ends_with('.');
                if looks_like_key && !keys.contains(&literal) {
                    missing.push(format!("{}: {literal}", path.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys without a translation:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn lookups_fall_back_and_fill_placeholders() {
        let catalog = catalog();
        let tr = catalog.tr(Lang::ZhTw);
        assert_eq!(tr.t("no.such.key"), "no.such.key");
        assert!(tr.f("throttle.wait", &[("seconds", "42")]).contains("42"));
    }
}
