//! What every form posted to the console must show before anything is decided: that it came
//! from a page of this console (`Origin` naming this host, `Sec-Fetch-Site: same-origin`, when
//! the browser sends them) and that it carries its session's CSRF token. A form that fails
//! either is refused and records nothing.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use super::WebError;
use super::session::Session;

/// A form's fields in the order posted (`application/x-www-form-urlencoded`).
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `name`, trimmed (empty when absent).
    pub fn text(&self, name: &str) -> String {
        self.get(name).trim().to_owned()
    }

    /// The value of `name`, trimmed, or a refusal naming the field.
    pub fn required(&self, name: &str) -> Result<String, WebError> {
        let value = self.get(name).trim();
        if value.is_empty() {
            return Err(WebError::BadForm(format!("`{name}` is required")));
        }
        Ok(value.to_owned())
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Self, WebError> {
        axum::Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map(|axum::Form(fields)| Fields(fields))
            .map_err(|error| WebError::BadForm(format!("the form could not be read: {error}")))
    }
}

/// Refuses a request a browser says came from another site.
pub fn same_origin(headers: &HeaderMap) -> Result<(), WebError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if site != "same-origin" {
            return Err(WebError::CrossSite(format!("Sec-Fetch-Site is `{site}`")));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or("");
        let own = ["http://", "https://"]
            .iter()
            .any(|scheme| origin.strip_prefix(scheme) == Some(host));
        if host.is_empty() || !own {
            return Err(WebError::CrossSite(format!(
                "Origin `{}` is not this console",
                origin.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// Refuses a form that lacks its session's CSRF token.
pub fn csrf(session: &Session, fields: &Fields) -> Result<(), WebError> {
    let presented = fields.get("csrf");
    let matches: bool = presented.as_bytes().ct_eq(session.csrf.as_bytes()).into();
    if presented.is_empty() || !matches {
        return Err(WebError::CrossSite(
            "its CSRF token is missing or not this session's".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn another_origin_is_refused_and_this_one_is_not() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[host])).is_ok());
        assert!(same_origin(&headers(&[host, ("origin", "http://127.0.0.1:8080")])).is_ok());
        assert!(same_origin(&headers(&[host, ("origin", "http://evil.example")])).is_err());
        assert!(same_origin(&headers(&[host, ("origin", "null")])).is_err());
        assert!(same_origin(&headers(&[host, ("sec-fetch-site", "cross-site")])).is_err());
        assert!(same_origin(&headers(&[host, ("sec-fetch-site", "same-site")])).is_err());
    }
}
