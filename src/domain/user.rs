//! User accounts: names, profiles, settings and password rules (manual §6).

use serde::{Deserialize, Serialize};

use super::validation::FieldErrors;

pub const USERNAME_MIN: usize = 2;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;
const PROFILE_FIELD_MAX: usize = 200;
/// A user search needs this many characters …
pub const USER_SEARCH_MIN: usize = 2;
/// … and answers at most this many names.
pub const USER_SEARCH_MAX: usize = 20;

/// A login name: lowercase letters, digits, '.', '_' and '-', starting with a
/// letter or digit, 2 to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Parses a login name typed by a person; surrounding spaces are ignored.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.trim();
        if name.is_empty() {
            return Err("error.username.required");
        }
        let len = name.chars().count();
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
            return Err("error.username.length");
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !starts_well || !name.chars().all(allowed) {
            return Err("error.username.chars");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a name typed at login before anything is looked up: no account
/// has a name longer than [`USERNAME_MAX`], so a longer one is refused with
/// that limit instead of being hashed against.
pub fn check_login_name(name: &str) -> Result<(), &'static str> {
    if name.chars().count() > USERNAME_MAX {
        Err("auth.login.username_too_long")
    } else {
        Ok(())
    }
}

/// "Account Category" on My Profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountCategory {
    #[default]
    Personal,
    Organization,
}

impl AccountCategory {
    pub const ALL: [AccountCategory; 2] =
        [AccountCategory::Personal, AccountCategory::Organization];

    pub fn code(self) -> &'static str {
        match self {
            AccountCategory::Personal => "personal",
            AccountCategory::Organization => "organization",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// The "My Profile" fields of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub category: AccountCategory,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub address: String,
    pub phone: String,
}

/// The profile form as submitted: every field a string, nothing trusted.
/// The login e-mail is not part of it: it changes only through a mailed
/// link (`service/emails.rs`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UpdateProfileRequest {
    pub category: String,
    pub first_name: String,
    pub last_name: String,
    pub address: String,
    pub phone: String,
}

impl UpdateProfileRequest {
    pub fn from_profile(p: &Profile) -> Self {
        Self {
            category: p.category.code().to_owned(),
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            address: p.address.clone(),
            phone: p.phone.clone(),
        }
    }

    /// Checks every field and returns the profile to store, with the
    /// account's login e-mail `email` unchanged.
    pub fn validate(&self, email: &str) -> Result<Profile, FieldErrors> {
        let mut errors = FieldErrors::new();
        let category = AccountCategory::from_code(self.category.trim()).unwrap_or_else(|| {
            errors.add("category", "error.category.invalid");
            AccountCategory::Personal
        });
        let mut text = |field: &'static str, value: &str| {
            let value = value.trim();
            if value.chars().count() > PROFILE_FIELD_MAX {
                errors.add(field, "error.field.too_long");
            } else if value.chars().any(char::is_control) {
                errors.add(field, "error.field.control_chars");
            }
            value.to_owned()
        };
        let first_name = text("first_name", &self.first_name);
        let last_name = text("last_name", &self.last_name);
        let address = text("address", &self.address);
        let phone = text("phone", &self.phone);
        let phone_ok = phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()#".contains(c));
        if !phone_ok {
            errors.add("phone", "error.phone.invalid");
        }
        errors.into_result(Profile {
            category,
            first_name,
            last_name,
            email: email.to_owned(),
            address,
            phone,
        })
    }
}

pub(crate) fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
        && !domain.contains('@')
}

/// Colour theme: the browser's preference unless the user picked one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    pub fn code(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// A language the interface is translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-TW")]
    ZhTw,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhTw];

    /// The BCP 47 tag, as used in `lang` attributes and translation files.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhTw => "zh-TW",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// The language's own name, shown in the language menu.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhTw => "繁體中文",
        }
    }

    /// Picks the best language for an `Accept-Language` header. Every Chinese
    /// variant maps to Traditional Chinese, the one we have; unknown or absent
    /// preferences give English.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::ZhTw
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }
}

/// The language setting: a fixed language, or the browser's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguageSetting {
    #[default]
    Browser,
    Fixed(Lang),
}

impl LanguageSetting {
    pub fn code(self) -> &'static str {
        match self {
            LanguageSetting::Browser => "browser",
            LanguageSetting::Fixed(lang) => lang.tag(),
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        if code == "browser" {
            Some(LanguageSetting::Browser)
        } else {
            Lang::from_tag(code).map(LanguageSetting::Fixed)
        }
    }

    pub fn resolve(self, accept_language: Option<&str>) -> Lang {
        match self {
            LanguageSetting::Browser => Lang::negotiate(accept_language),
            LanguageSetting::Fixed(lang) => lang,
        }
    }
}

/// The user's Settings page (manual §6.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub theme: Theme,
    pub language: LanguageSetting,
}

/// The most common passwords of at least [`PASSWORD_MIN`] characters, one a
/// line, lowercase (shorter ones already fail the length rule).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Whether `password` is one of the most common passwords (ignoring case
/// and surrounding spaces).
pub fn is_common_password(password: &str) -> bool {
    let candidate = password.trim().to_lowercase();
    COMMON_PASSWORDS.lines().any(|line| line == candidate)
}

/// Checks a new password and its confirmation.
pub fn validate_new_password(new: &str, confirm: &str) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let len = new.chars().count();
    if new.trim().is_empty() {
        errors.add("new_password", "auth.password.blank");
    } else if len < PASSWORD_MIN {
        errors.add("new_password", "error.password.too_short");
    } else if len > PASSWORD_MAX {
        errors.add("new_password", "error.password.too_long");
    } else if is_common_password(new) {
        errors.add("new_password", "auth.password.common");
    }
    if new != confirm {
        errors.add("confirm_password", "error.password.mismatch");
    }
    errors.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("admin").is_ok());
        assert_eq!(Username::parse(" alice ").map(|u| u.0), Ok("alice".into()));
        assert!(Username::parse("a.b_c-9").is_ok());
        assert_eq!(Username::parse(""), Err("error.username.required"));
        assert_eq!(Username::parse("a"), Err("error.username.length"));
        assert_eq!(
            Username::parse(&"a".repeat(33)),
            Err("error.username.length")
        );
        assert_eq!(Username::parse("Alice"), Err("error.username.chars"));
        assert_eq!(Username::parse("-alice"), Err("error.username.chars"));
        assert_eq!(Username::parse("al ice"), Err("error.username.chars"));
        assert_eq!(Username::parse("李四"), Err("error.username.chars"));
    }

    #[test]
    fn profile_validation_names_each_bad_field() {
        let request = UpdateProfileRequest {
            category: "alien".into(),
            phone: "call me".into(),
            first_name: "x".repeat(201),
            ..Default::default()
        };
        let errors = request.validate("").err().unwrap_or_default();
        assert_eq!(errors.get("category"), Some("error.category.invalid"));
        assert_eq!(errors.get("phone"), Some("error.phone.invalid"));
        assert_eq!(errors.get("first_name"), Some("error.field.too_long"));
        assert_eq!(errors.get("last_name"), None);
    }

    #[test]
    fn a_good_profile_is_trimmed() {
        let request = UpdateProfileRequest {
            category: "organization".into(),
            first_name: " Mei ".into(),
            last_name: "Lin".into(),
            address: "No. 1, Sec. 4, Roosevelt Rd.".into(),
            phone: "+886 (2) 1234-5678".into(),
        };
        let profile = request.validate("mei@lab.example");
        assert_eq!(profile.as_ref().map(|p| p.first_name.as_str()), Ok("Mei"));
        assert_eq!(
            profile.as_ref().map(|p| p.email.as_str()),
            Ok("mei@lab.example"),
            "the login e-mail is kept"
        );
        assert_eq!(
            profile.map(|p| p.category),
            Ok(AccountCategory::Organization)
        );
    }

    #[test]
    fn language_negotiation_respects_quality() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh-TW,zh;q=0.9,en;q=0.8")), Lang::ZhTw);
        assert_eq!(
            Lang::negotiate(Some("en-US,en;q=0.9,zh-TW;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::negotiate(Some("fr-FR, zh-Hant;q=0.5")), Lang::ZhTw);
        assert_eq!(Lang::negotiate(Some("fr-FR,de")), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh;q=0")), Lang::En);
    }

    #[test]
    fn settings_codes_round_trip() {
        for code in ["browser", "en", "zh-TW"] {
            assert_eq!(
                LanguageSetting::from_code(code).map(|l| l.code()),
                Some(code)
            );
        }
        assert_eq!(LanguageSetting::from_code("klingon"), None);
        for theme in Theme::ALL {
            assert_eq!(Theme::from_code(theme.code()), Some(theme));
        }
    }

    #[test]
    fn new_passwords_need_length_and_confirmation() {
        assert!(validate_new_password("long enough", "long enough").is_ok());
        let errors = validate_new_password("short", "other")
            .err()
            .unwrap_or_default();
        assert_eq!(errors.get("new_password"), Some("error.password.too_short"));
        assert_eq!(
            errors.get("confirm_password"),
            Some("error.password.mismatch")
        );
    }

    #[test]
    fn blank_and_common_passwords_are_refused() {
        let blank = validate_new_password("        ", "        ")
            .err()
            .unwrap_or_default();
        assert_eq!(blank.get("new_password"), Some("auth.password.blank"));
        let common = validate_new_password("Password1", "Password1")
            .err()
            .unwrap_or_default();
        assert_eq!(common.get("new_password"), Some("auth.password.common"));
        assert!(is_common_password("12345678"));
        assert!(!is_common_password("correct horse battery"));
        for line in COMMON_PASSWORDS.lines() {
            assert!(line.chars().count() >= PASSWORD_MIN, "{line:?} is short");
            assert_eq!(
                line,
                line.trim().to_lowercase(),
                "{line:?} is not normalised"
            );
        }
    }

    #[test]
    fn login_names_longer_than_usernames_are_refused() {
        assert_eq!(check_login_name(&"a".repeat(USERNAME_MAX)), Ok(()));
        assert_eq!(
            check_login_name(&"a".repeat(USERNAME_MAX + 1)),
            Err("auth.login.username_too_long")
        );
    }
}
