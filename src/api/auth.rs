//! Who may call: `authorization: Bearer <token>` checked against tokens configured by name, role
//! and SHA-256.
//!
//! Only hashes are configured, so the service never holds a token it could leak. A presented
//! token is hashed and compared with every configured hash in constant time. The caller's name
//! becomes the actor (`api:<name>`) of what it appends. Health and reflection need no token.
//!
//! The tokens in force are [`Tokens`], replaced whole when the configuration is reloaded (on
//! SIGHUP): every call, and every web console request, is judged by the tokens of that moment.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use subtle::ConstantTimeEq;
use tonic::{Request, Status};

use crate::hash::Hash256;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read everything (`LedgerService`).
    Auditor,
    /// Read everything and write (`AdminService`).
    Admin,
    /// Read and decide the access reviews it is a reviewer of (docs/reference/api.md#auth), and
    /// nothing else.
    Reviewer,
}

/// The only calls a `reviewer` token may make; which reviews it may read or decide is the
/// service's to say.
const REVIEWER_METHODS: [&str; 3] = [
    "/tailledger.v1.LedgerService/GetAccessReview",
    "/tailledger.v1.LedgerService/ListAccessReviews",
    "/tailledger.v1.AdminService/DecideAccessReview",
];

/// The path of the call (`/package.Service/Method`), put in the request's extensions by
/// [`MethodPathLayer`] before the interceptors run, which see no URI of their own.
#[derive(Clone, Debug)]
struct MethodPath(String);

/// A layer of the server that records each request's path for [`require`].
pub fn method_path_layer<B>()
-> tower::util::MapRequestLayer<fn(http::Request<B>) -> http::Request<B>> {
    tower::util::MapRequestLayer::new(|mut request: http::Request<B>| {
        let path = MethodPath(request.uri().path().to_owned());
        request.extensions_mut().insert(path);
        request
    })
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        }
    }
}

/// One configured token: its name, role and the SHA-256 of its value.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    pub sha256: Hash256,
    /// The employee the holder is, who may decide access reviews.
    pub employee_id: Option<String>,
}

impl fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is not the token, but there is no reason to spread it either.
        f.debug_struct("TokenEntry")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("employee_id", &self.employee_id)
            .finish_non_exhaustive()
    }
}

/// How callers are authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Every caller is an admin named `anonymous` (allowed on loopback only; the config checks).
    Disabled,
    Tokens(Vec<TokenEntry>),
}

/// Why a caller was refused; `errors.rs` turns each into a status code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing `authorization: Bearer <token>` metadata")]
    MissingHeader,
    #[error("the authorization metadata is not text")]
    NotText,
    #[error("authorization must be `Bearer <token>`")]
    NotBearer,
    #[error("unknown token")]
    UnknownToken,
    #[error("token `{name}` has role {}; this call needs {needs}", role.as_str())]
    PermissionDenied {
        name: String,
        role: Role,
        needs: &'static str,
    },
    #[error("the request passed no authentication")]
    NotAuthenticated,
}

/// The tokens in force: read at every call, replaced whole by a reload.
#[derive(Debug)]
pub struct Tokens {
    current: RwLock<Arc<Auth>>,
}

impl Tokens {
    pub fn new(auth: Auth) -> Self {
        Tokens {
            current: RwLock::new(Arc::new(auth)),
        }
    }

    /// The tokens in force now.
    pub fn current(&self) -> Arc<Auth> {
        // A plain value swapped whole: a panic elsewhere cannot leave it half-written.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `auth` in force for every call from now on.
    pub fn replace(&self, auth: Auth) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(auth);
    }
}

/// The authenticated caller, put in the request's extensions for the handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The employee the token names, if any.
    pub employee_id: Option<String>,
}

impl Auth {
    /// The configured token whose hash is `token`'s, compared in constant time with every
    /// configured hash.
    pub fn identify(&self, token: &str) -> Result<&TokenEntry, AuthError> {
        let tokens = match self {
            Auth::Disabled => return Err(AuthError::UnknownToken),
            Auth::Tokens(tokens) => tokens,
        };
        let presented = Hash256::of(token.as_bytes());
        // Every configured hash is compared, matched or not, so the time taken does not tell
        // how close a guess came.
        let mut matched: Option<&TokenEntry> = None;
        for entry in tokens {
            let equal: bool = entry.sha256.0.ct_eq(&presented.0).into();
            if equal && matched.is_none() {
                matched = Some(entry);
            }
        }
        matched.ok_or(AuthError::UnknownToken)
    }

    /// The caller presenting `metadata`'s bearer token, if it is allowed `required`.
    fn authenticate(&self, request: &Request<()>, required: Role) -> Result<Caller, AuthError> {
        let header = match (self, request.metadata().get("authorization")) {
            (Auth::Tokens(_), Some(value)) => Some(value.to_str().map_err(|_| AuthError::NotText)?),
            _ => None,
        };
        let method = request
            .extensions()
            .get::<MethodPath>()
            .map(|path| path.0.as_str());
        self.authenticate_header(header, method, required)
    }

    /// The caller presenting `header` (an `authorization` value: `Bearer <token>`), if it is
    /// allowed `required`; `method` is the gRPC method, which a reviewer token needs. The tiles
    /// endpoint checks its entry bundles' readers with it (`method` `None`).
    pub fn authenticate_header(
        &self,
        header: Option<&str>,
        method: Option<&str>,
        required: Role,
    ) -> Result<Caller, AuthError> {
        if let Auth::Disabled = self {
            return Ok(Caller {
                name: "anonymous".to_owned(),
                role: Role::Admin,
                employee_id: None,
            });
        }
        let header = header.ok_or(AuthError::MissingHeader)?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AuthError::NotBearer)?;
        let entry = self.identify(token)?;
        let allowed = match entry.role {
            Role::Admin => true,
            Role::Auditor => required == Role::Auditor,
            Role::Reviewer => method.is_some_and(|method| REVIEWER_METHODS.contains(&method)),
        };
        if !allowed {
            return Err(AuthError::PermissionDenied {
                name: entry.name.clone(),
                role: entry.role,
                needs: match required {
                    Role::Admin => "admin",
                    Role::Auditor | Role::Reviewer => "auditor or admin",
                },
            });
        }
        Ok(Caller {
            name: entry.name.clone(),
            role: entry.role,
            employee_id: entry.employee_id.clone(),
        })
    }
}

/// An interceptor that lets through callers with `required` (judged by the tokens in force at
/// the call) and records who they are.
pub fn require(
    auth: Arc<Tokens>,
    required: Role,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |mut request: Request<()>| {
        let caller = auth
            .current()
            .authenticate(&request, required)
            .map_err(Status::from)?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller the interceptor recorded.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| AuthError::NotAuthenticated.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(header) = header {
            request
                .metadata_mut()
                .insert("authorization", header.parse().unwrap());
        }
        request
    }

    fn tokens() -> Auth {
        Auth::Tokens(vec![
            TokenEntry {
                name: "audit".to_owned(),
                role: Role::Auditor,
                sha256: Hash256::of(b"auditor-secret"),
                employee_id: None,
            },
            TokenEntry {
                name: "ops".to_owned(),
                role: Role::Admin,
                sha256: Hash256::of(b"admin-secret"),
                employee_id: None,
            },
        ])
    }

    #[test]
    fn a_header_alone_is_judged_as_the_tiles_endpoint_asks() {
        let mut auth = tokens();
        if let Auth::Tokens(tokens) = &mut auth {
            tokens.push(TokenEntry {
                name: "rev".to_owned(),
                role: Role::Reviewer,
                sha256: Hash256::of(b"reviewer-secret"),
                employee_id: Some("E-1".to_owned()),
            });
        }
        for (header, allowed) in [
            (Some("Bearer auditor-secret"), true),
            (Some("bearer admin-secret"), true),
            (Some("Bearer reviewer-secret"), false),
            (Some("Bearer wrong"), false),
            (None, false),
        ] {
            let judged = auth.authenticate_header(header, None, Role::Auditor);
            assert_eq!(judged.is_ok(), allowed, "{header:?}: {judged:?}");
        }
        let reviewer = auth
            .authenticate_header(Some("Bearer reviewer-secret"), None, Role::Auditor)
            .unwrap_err();
        assert!(matches!(reviewer, AuthError::PermissionDenied { .. }));
    }

    #[test]
    fn tokens_are_matched_by_hash_and_role() {
        let auth = tokens();
        let audit = auth
            .authenticate(&request(Some("Bearer auditor-secret")), Role::Auditor)
            .unwrap();
        assert_eq!(audit.name, "audit");
        let denied = auth
            .authenticate(&request(Some("bearer auditor-secret")), Role::Admin)
            .unwrap_err();
        assert_eq!(Status::from(denied).code(), tonic::Code::PermissionDenied);
        let admin = auth
            .authenticate(&request(Some("Bearer admin-secret")), Role::Admin)
            .unwrap();
        assert_eq!(admin.role, Role::Admin);
        for header in [None, Some("Bearer wrong"), Some("Basic admin-secret")] {
            let refused = auth
                .authenticate(&request(header), Role::Auditor)
                .unwrap_err();
            assert_eq!(
                Status::from(refused).code(),
                tonic::Code::Unauthenticated,
                "{header:?}"
            );
        }
    }
}
