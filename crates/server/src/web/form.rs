//! HTML forms: the posted fields ([`FormData`]) and the widgets that show them again with their
//! errors ([`Form`]). Every widget has a label; an error is a sentence right under its field,
//! tied to it with `aria-describedby`, and errors no field claims appear by the submit button.
use std::cell::RefCell;
use steward_app::AppError;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::{ApiError, FieldError};
use crate::web::html::{Html, escape};
use crate::web::{capitalize_sentence, sentence};

/// The fields of a posted HTML form, in order (repeated names allowed: checkbox lists).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    #[must_use]
    pub fn parse(body: &[u8]) -> Self {
        FormData(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default())
    }

    /// The first value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed, or "" when absent.
    #[must_use]
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    /// `Some(trimmed)` when given and not blank.
    #[must_use]
    pub fn opt(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }

    #[must_use]
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }

    #[must_use]
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FormData {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<FormData>().cloned().unwrap_or_default())
    }
}

/// One form on a page: its values (as posted, or as stored), its errors and its CSRF token.
pub struct Form {
    id: &'static str,
    csrf: String,
    values: FormData,
    errors: Vec<FieldError>,
    general: Option<String>,
    /// Fields rendered so far, so `general()` can show errors that no field claimed.
    shown: RefCell<Vec<String>>,
}

impl Form {
    #[must_use]
    pub fn new(id: &'static str, csrf: &str) -> Self {
        Form {
            id,
            csrf: csrf.to_string(),
            values: FormData::default(),
            errors: Vec::new(),
            general: None,
            shown: RefCell::new(Vec::new()),
        }
    }

    #[must_use]
    pub fn with_values(mut self, values: FormData) -> Self {
        // Secrets are never sent back to the browser.
        values.0.iter().filter(|(n, _)| !is_secret(n)).for_each(|(n, v)| self.values.0.push((n.clone(), v.clone())));
        self
    }

    #[must_use]
    pub fn value(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values.0.push((name.to_string(), value.into()));
        self
    }

    /// The message by the button, put in other words (an instant in it as a time in a zone).
    #[must_use]
    pub fn reword(mut self, f: impl Fn(&str) -> String) -> Self {
        self.general = self.general.map(|g| f(&g));
        self
    }

    /// Takes the API's answer: field errors go to their fields, anything else by the button.
    #[must_use]
    pub fn failed(mut self, error: &ApiError) -> Self {
        match error {
            // `credentials.app_password` is the form's `app_password` field.
            ApiError(AppError::Validation(errors)) => {
                self.errors = errors
                    .iter()
                    .map(|e| {
                        FieldError::new(e.field.strip_prefix("credentials.").unwrap_or(&e.field), e.message.clone())
                    })
                    .collect();
            }
            other => self.general = Some(sentence(other)),
        }
        self
    }

    /// A field error found by the page itself (e.g. a date it could not read).
    #[must_use]
    pub fn field_error(mut self, field: &str, message: &str) -> Self {
        self.errors.push(FieldError::new(field, message));
        self
    }

    #[must_use]
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.general.is_some()
    }

    /// The hidden CSRF field every form carries.
    #[must_use]
    pub fn csrf(&self) -> Html {
        Html::escaped(format!("<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">", escape(&self.csrf)))
    }

    /// The field's element id, escaped for the attributes it goes into.
    fn field_id(&self, name: &str) -> String {
        escape(&format!("{}-{}", self.id, name.replace(['[', ']', '.', '_'], "-")))
    }

    /// Errors for a field, matching `grant[2]` or `windows[0].end` to `grant` / `windows`.
    fn errors_for(&self, name: &str) -> Vec<&str> {
        self.errors
            .iter()
            .filter(|e| {
                let base = e.field.split(['[', '.']).next().unwrap_or("");
                e.field == name || base == name
            })
            .map(|e| e.message.as_str())
            .collect()
    }

    fn error_html(&self, name: &str, label: &str) -> (String, String) {
        self.shown.borrow_mut().push(name.to_string());
        let errors = self.errors_for(name);
        if errors.is_empty() {
            return (String::new(), String::new());
        }
        let id = format!("{}-err", self.field_id(name));
        let text: Vec<String> = errors
            .iter()
            .map(|m| capitalize_sentence(&format!("{} {}", label.trim_end_matches(" (optional)"), m)))
            .collect();
        (
            format!(" aria-invalid=\"true\" aria-describedby=\"{id}\""),
            format!("<p class=\"err\" id=\"{id}\">{}</p>", escape(&text.join(" "))),
        )
    }

    fn current(&self, name: &str) -> &str {
        self.values.get(name).unwrap_or("")
    }

    /// A labelled `<input>`; `extra` is raw attributes such as `required autocomplete="email"`.
    #[must_use]
    pub fn input(&self, name: &str, label: &str, kind: &str, extra: &str) -> Html {
        let id = self.field_id(name);
        let (aria, err) = self.error_html(name, label);
        let value = if kind == "password" { String::new() } else { escape(self.current(name)) };
        Html::escaped(format!(
            "<div class=\"field\"><label for=\"{id}\">{}</label><input id=\"{id}\" name=\"{}\" type=\"{kind}\" value=\"{value}\" {extra}{aria}>{err}</div>",
            escape(label),
            escape(name)
        ))
    }

    #[must_use]
    pub fn textarea(&self, name: &str, label: &str, rows: u8) -> Html {
        let id = self.field_id(name);
        let (aria, err) = self.error_html(name, label);
        Html::escaped(format!(
            "<div class=\"field\"><label for=\"{id}\">{}</label><textarea id=\"{id}\" name=\"{}\" rows=\"{rows}\"{aria}>{}</textarea>{err}</div>",
            escape(label),
            escape(name),
            escape(self.current(name))
        ))
    }

    /// A `<select>` of `(value, label)` options; the current value is selected.
    #[must_use]
    pub fn select(&self, name: &str, label: &str, options: &[(String, String)]) -> Html {
        let id = self.field_id(name);
        let (aria, err) = self.error_html(name, label);
        let current = self.current(name);
        let opts: String = options
            .iter()
            .map(|(v, l)| {
                let sel = if v == current { " selected" } else { "" };
                format!("<option value=\"{}\"{sel}>{}</option>", escape(v), escape(l))
            })
            .collect();
        Html::escaped(format!(
            "<div class=\"field\"><label for=\"{id}\">{}</label><select id=\"{id}\" name=\"{}\"{aria}>{opts}</select>{err}</div>",
            escape(label),
            escape(name)
        ))
    }

    /// A single labelled checkbox (checked when the form's value for `name` is `value`).
    #[must_use]
    pub fn checkbox(&self, name: &str, value: &str, label: &str) -> Html {
        let id = format!("{}-{}", self.field_id(name), escape(&value.replace('.', "-")));
        let checked = if self.values.all(name).iter().any(|v| v == value) { " checked" } else { "" };
        Html::escaped(format!(
            "<div class=\"check\"><input type=\"checkbox\" id=\"{id}\" name=\"{}\" value=\"{}\"{checked}><label for=\"{id}\">{}</label></div>",
            escape(name),
            escape(value),
            escape(label)
        ))
    }

    /// A group of checkboxes with a legend and the group's errors.
    #[must_use]
    pub fn checkboxes(&self, name: &str, legend: &str, options: &[(String, String)]) -> Html {
        let (_, err) = self.error_html(name, legend);
        let boxes: Html = options.iter().map(|(v, l)| self.checkbox(name, v, l)).collect();
        Html::escaped(format!("<fieldset class=\"checks\"><legend>{}</legend>{boxes}{err}</fieldset>", escape(legend)))
    }

    /// The weekly posting hours: presets as radio buttons (`hours`, read on the server, see
    /// `time::posted_windows`) and the grid of one checkbox per day and hour (`w`), folded away
    /// unless chosen. `publish_roles` are the roles that can schedule or publish: the script
    /// hides the hours for the others (they do not apply), and turns the grid's day and hour
    /// headers into buttons that tick a whole column or row.
    #[must_use]
    pub fn hours(&self, legend: &str, publish_roles: &[&str]) -> Html {
        let (_, err) = self.error_html("windows", legend);
        self.shown.borrow_mut().push("hours".into());
        let preset = match self.current("hours") {
            "" => "any",
            p => p,
        };
        let selected = self.values.all("w");
        let roles = publish_roles.join(" ");
        let mut html = format!(
            "<fieldset class=\"hours\" data-publish-roles=\"{}\"><legend>{}</legend><p class=\"hint\">When this person may \
             schedule and publish, in the account's time zone. Only used for roles that can schedule or publish ({}).</p>",
            escape(&roles),
            escape(legend),
            escape(&publish_roles.join(", "))
        );
        for (key, label) in crate::web::time::HOURS_PRESETS {
            let id = format!("{}-{key}", self.field_id("hours"));
            let checked = if key == preset { " checked" } else { "" };
            html.push_str(&format!(
                "<div class=\"check\"><input type=\"radio\" id=\"{id}\" name=\"hours\" value=\"{key}\"{checked}><label for=\"{id}\">{label}</label></div>"
            ));
        }
        let open = if preset == "custom" { " open" } else { "" };
        html.push_str(&format!(
            "<details class=\"grid\"{open}><summary>The hours one by one</summary><p class=\"hint\">Choose “Only the hours ticked below” \
             above, then tick the hours.</p><div class=\"scroll\" tabindex=\"0\" role=\"group\" aria-label=\"Hours\"><table><thead><tr><th scope=\"col\">Hour</th>"
        ));
        for (key, day) in crate::web::time::DAYS {
            html.push_str(&format!("<th scope=\"col\" data-day=\"{key}\">{day}</th>"));
        }
        html.push_str("</tr></thead><tbody>");
        for hour in 0..24 {
            html.push_str(&format!("<tr><th scope=\"row\" data-hour=\"{hour}\">{hour:02}</th>"));
            for (key, day) in crate::web::time::DAYS {
                let value = format!("{key}-{hour}");
                let checked = if selected.contains(&value) { " checked" } else { "" };
                html.push_str(&format!(
                    "<td><input type=\"checkbox\" name=\"w\" value=\"{value}\" aria-label=\"{day} {hour:02}:00 to {next:02}:00\"{checked}></td>",
                    next = hour + 1
                ));
            }
            html.push_str("</tr>");
        }
        html.push_str(&format!("</tbody></table></div></details>{err}</fieldset>"));
        Html::escaped(html)
    }

    /// Capabilities to add to or take from a role, as sentences; each names whether the role
    /// chosen in the form (`role`) already includes it. `options` are `(id, sentence, roles
    /// including it)`; the script keeps the marks in step when another role is chosen.
    #[must_use]
    pub fn capability_checks(&self, name: &str, legend: &str, options: &[(String, String, Vec<&'static str>)]) -> Html {
        let (_, err) = self.error_html(name, legend);
        let role = self.current("role");
        let mut boxes = String::new();
        for (value, sentence, roles) in options {
            let id = format!("{}-{}", self.field_id(name), escape(&value.replace('.', "-")));
            let checked = if self.values.all(name).iter().any(|v| v == value) { " checked" } else { "" };
            let included = roles.contains(&role);
            boxes.push_str(&format!(
                "<div class=\"check\"><input type=\"checkbox\" id=\"{id}\" name=\"{}\" value=\"{}\" data-roles=\"{}\"{checked}>\
                 <label for=\"{id}\">{}<span class=\"incl\"{}> (the <span class=\"role-name\">{}</span> role includes this)</span></label></div>",
                escape(name),
                escape(value),
                escape(&roles.join(" ")),
                escape(sentence),
                if included { "" } else { " hidden" },
                escape(role)
            ));
        }
        Html::escaped(format!("<fieldset class=\"checks\"><legend>{}</legend>{boxes}{err}</fieldset>", escape(legend)))
    }

    /// Errors no field showed (refusals, conflicts, limits): put this next to the submit button.
    #[must_use]
    pub fn general(&self) -> Html {
        let shown = self.shown.borrow();
        let mut lines: Vec<String> = self.general.iter().cloned().collect();
        for e in &self.errors {
            let base = e.field.split(['[', '.']).next().unwrap_or("");
            if !shown.iter().any(|s| s == base || *s == e.field) {
                lines.push(capitalize_sentence(&format!("{} {}", base.replace('_', " "), e.message)));
            }
        }
        if lines.is_empty() {
            return Html::default();
        }
        Html::escaped(format!("<p class=\"err\" role=\"alert\">{}</p>", escape(&lines.join(" "))))
    }
}

fn is_secret(name: &str) -> bool {
    matches!(name, "password" | "app_password" | "csrf_token" | "code" | "pending")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_errors_by_their_field() {
        let data = FormData::parse(b"w=mon-9&w=tue-10&email=a%40b.c&password=secret");
        assert_eq!(data.all("w"), vec!["mon-9", "tue-10"]);
        let form = Form::new("f", "tok").with_values(data).failed(&ApiError(AppError::Validation(vec![
            FieldError::new("email", "is not a valid email address"),
            FieldError::new("grant[1]", "`x` is not a capability"),
        ])));
        let email = form.input("email", "Email address", "email", "").to_string();
        assert!(email.contains("Email address is not a valid email address."), "{email}");
        assert!(email.contains("aria-invalid=\"true\""));
        let password = form.input("password", "Password", "password", "").to_string();
        assert!(!password.contains("secret"), "passwords are never echoed");
        // `grant` was not rendered: its error shows by the button.
        assert!(form.general().as_str().contains("Grant `x` is not a capability."), "{}", form.general());
    }
}
