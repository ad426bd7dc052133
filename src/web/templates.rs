//! The console's pages: minijinja templates compiled into the binary, rendered with HTML
//! autoescaping (every template's name ends in `.html`) and a formatter that first shows outside
//! text as a terminal would (`render::shown`): bidirectional overrides, isolates and control
//! characters become visible escapes, so a name cannot turn a row around. Values put in a URL
//! go through the `path` filter, which percent-encodes all but unreserved characters, and every
//! link starts with `/`, so no value can make a `javascript:` link.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior, context};

use super::session::Session;
use crate::render::Show;

const STYLESHEET: &str = include_str!("templates/style.css");

/// The templates, by name.
const TEMPLATES: [(&str, &str); 17] = [
    ("base.html", include_str!("templates/base.html.j2")),
    ("error.html", include_str!("templates/error.html.j2")),
    ("signin.html", include_str!("templates/signin.html.j2")),
    ("overview.html", include_str!("templates/overview.html.j2")),
    ("check.html", include_str!("templates/check.html.j2")),
    ("accounts.html", include_str!("templates/accounts.html.j2")),
    ("account.html", include_str!("templates/account.html.j2")),
    ("people.html", include_str!("templates/people.html.j2")),
    ("person.html", include_str!("templates/person.html.j2")),
    ("appended.html", include_str!("templates/appended.html.j2")),
    ("reviews.html", include_str!("templates/reviews.html.j2")),
    ("review.html", include_str!("templates/review.html.j2")),
    ("ledger.html", include_str!("templates/ledger.html.j2")),
    ("report.html", include_str!("templates/report.html.j2")),
    (
        "exceptions.html",
        include_str!("templates/exceptions.html.j2"),
    ),
    ("history.html", include_str!("templates/history.html.j2")),
    ("evidence.html", include_str!("templates/evidence.html.j2")),
];

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Chainable);
    environment.set_formatter(|out, state, value| {
        match value.as_str() {
            // Outside text: shown with its invisible and reordering characters as escapes, then
            // HTML-escaped by the default formatter.
            Some(text) if !value.is_safe() => {
                minijinja::escape_formatter(out, state, &Value::from(text.shown().to_string()))
            }
            _ => minijinja::escape_formatter(out, state, value),
        }
    });
    environment.add_filter("path", path_segment);
    for (name, source) in TEMPLATES {
        // The templates are constants of this crate, and the tests render every one.
        environment
            .add_template(name, source)
            .expect("the console's templates parse");
    }
    environment
});

/// `text` percent-encoded for one segment of a path or a query value.
pub fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The page `name` renders with `values`, and the signed-in person's name, role and CSRF token
/// for the navigation and the forms.
pub fn render(name: &str, session: Option<&Session>, values: Value) -> String {
    let user = session.map(|session| {
        context! {
            name => session.name,
            role => session.role.as_str(),
            employee_id => session.employee_id,
            admin => session.role == crate::api::Role::Admin,
            reads => session.role != crate::api::Role::Reviewer,
            decides => super::allowed(session.role, super::Need::Decide),
        }
    });
    let csrf = session.map(|session| session.csrf.clone());
    let template = ENVIRONMENT
        .get_template(name)
        .expect("every page names a template of TEMPLATES");
    match template.render(context! { user, csrf, ..values }) {
        Ok(page) => page,
        Err(error) => {
            tracing::error!("web console: the page {name} could not be rendered: {error:#}");
            "<!doctype html><title>tailledger</title><p>This page could not be rendered; the server's log says why.</p>".to_owned()
        }
    }
}

/// [`render`] as an HTML answer.
pub fn page(name: &str, session: Option<&Session>, values: Value) -> Response {
    Html(render(name, session, values)).into_response()
}

/// `GET /style.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_escaped_and_its_bidi_controls_shown() {
        let page = render(
            "error.html",
            None,
            context! { status => 400, message => "<script>alert(1)</script>\u{202e}evil" },
        );
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;\\u{202e}evil"),
            "{page}"
        );
        assert!(!page.contains('\u{202e}'));
    }

    #[test]
    fn a_path_segment_keeps_only_unreserved_characters() {
        assert_eq!(
            path_segment("javascript:alert(1)"),
            "javascript%3Aalert%281%29"
        );
        assert_eq!(path_segment("u-1.a_b~"), "u-1.a_b~");
        assert_eq!(path_segment("a/b"), "a%2Fb");
    }

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(ENVIRONMENT.get_template(name).is_ok(), "{name}");
        }
    }
}
