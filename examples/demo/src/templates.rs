//! The dashboard's HTML: minijinja templates embedded in the binary (auto-escaped).

use std::sync::Arc;

use minijinja::Environment;

/// The embedded templates.
#[derive(Clone)]
pub(crate) struct Templates(Arc<Environment<'static>>);

const TEMPLATES: [(&str, &str); 4] = [
    ("base.html", include_str!("../templates/base.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    ("message.html", include_str!("../templates/message.html")),
];

impl Templates {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // Embedded at compile time and checked by the tests: cannot fail at run time.
            env.add_template(name, source)
                .unwrap_or_else(|error| panic!("embedded template {name}: {error}"));
        }
        Self(Arc::new(env))
    }

    /// Renders `name` with `context`.
    pub(crate) fn render(
        &self,
        name: &str,
        context: &serde_json::Value,
    ) -> Result<String, minijinja::Error> {
        self.0.get_template(name)?.render(context)
    }
}

/// `secs` (Unix) as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_dates_format() {
        let templates = Templates::new();
        let page = templates
            .render(
                "message.html",
                &serde_json::json!({"title": "<t>", "message": "m"}),
            )
            .unwrap();
        assert!(page.contains("&lt;t&gt;"));
        assert_eq!(format_unix(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_unix(1_709_210_096), "2024-02-29 12:34 UTC");
    }
}
