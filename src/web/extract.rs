//! The two extractors every handler starts with, so that each handler only parses its
//! arguments, calls the service and shows the answer. [`Signed<N>`] is a page's: a live session
//! whose role has what `N` needs ([`access`](super::access)). [`Posted<N>`] is a form's: the
//! same, then the request's origin (before its body is read), then the body's fields and their
//! CSRF token. A request that fails any step is refused with its reason and reaches no service.

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::Response;

use super::access::Needs;
use super::forms::{self, Fields};
use super::session::{Session, SignedIn};
use super::{Shared, WebError, pages, templates};
use crate::entry::Entry;
use crate::event::Actor;

/// A signed-in person whose role may do what `N` needs.
pub struct Signed<N>(pub Session, pub PhantomData<N>);

impl<N: Needs> FromRequestParts<Shared> for Signed<N> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, WebError> {
        let SignedIn(session) = SignedIn::from_request_parts(parts, state).await?;
        if let Some(need) = N::NEED {
            session.require(need)?;
        }
        Ok(Signed(session, PhantomData))
    }
}

/// A form posted from this console, with its session's CSRF token, by a signed-in person whose
/// role may do what `N` needs.
pub struct Posted<N> {
    pub session: Session,
    pub fields: Fields,
    need: PhantomData<N>,
}

impl<N: Needs> FromRequest<Shared> for Posted<N> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &Shared) -> Result<Self, WebError> {
        let (mut parts, body) = request.into_parts();
        let Signed(session, _) = Signed::<N>::from_request_parts(&mut parts, state).await?;
        forms::same_origin(&parts.headers)?;
        let fields = Fields::from_request(Request::from_parts(parts, body), state).await?;
        forms::csrf(&session, &fields)?;
        Ok(Posted {
            session,
            fields,
            need: PhantomData,
        })
    }
}

impl<N> Posted<N> {
    /// The actor of what this form appends: `web:<token name>`.
    pub fn actor(&self) -> Actor {
        Actor::Web(self.session.name.clone())
    }

    /// The page that shows what this form appended, with a link `back`.
    pub fn appended(&self, what: &str, back: String, entries: &[Entry]) -> Response {
        templates::page(
            "appended.html",
            Some(&self.session),
            minijinja::context! {
                title => what,
                back,
                entries => pages::entry_values(entries),
            },
        )
    }
}
