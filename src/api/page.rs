//! Paged lists (`ListAccounts`, `ListEmployees`): page sizes, opaque page tokens, and pages
//! bounded in bytes.
//!
//! A token is URL-safe base64 of `v1`, the listing's scope (which list, with the arguments that
//! shape it), the instant the first page was read at, and the key of the last item sent. Later
//! pages read the ledger as of that instant and continue after that key, so the pages of one
//! listing add up to one consistent list in key order, whatever was appended in between. A
//! token used with other arguments is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prost::Message;
use tonic::Status;

use super::errors::invalid_argument;
use crate::time::Timestamp;

/// The page size when the request asks for none.
pub const DEFAULT_PAGE_SIZE: u32 = 1_000;
/// The largest page size a request may ask for.
pub const MAX_PAGE_SIZE: u32 = 5_000;
/// A page ends before its items would pass this many bytes, so a response stays under the
/// 4 MiB that gRPC clients accept by default, however large the items.
pub const MAX_PAGE_BYTES: usize = 3 << 20;

/// Where a page starts: the instant the listing is read at, and the key after which it goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub at: Timestamp,
    pub after: Option<String>,
}

/// The page size asked for: 0 means the default; more than the maximum is refused.
pub fn page_size(requested: u32) -> Result<usize, Status> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE as usize),
        size if size <= MAX_PAGE_SIZE => Ok(size as usize),
        size => Err(invalid_argument(
            "page_size",
            &format!("must be at most {MAX_PAGE_SIZE}, not {size}"),
        )),
    }
}

/// The cursor of a request: from its token, or for a first page at `as_of` (or `now`).
/// `scope` names the list and the arguments that shape it, on one line; a token of another
/// scope, or one
/// read at another instant than the request's `as_of`, is refused.
pub fn cursor(
    token: &str,
    scope: &str,
    as_of: Option<Timestamp>,
    now: impl FnOnce() -> Timestamp,
) -> Result<Cursor, Status> {
    if token.is_empty() {
        return Ok(Cursor {
            at: as_of.unwrap_or_else(now),
            after: None,
        });
    }
    let refused = || {
        invalid_argument(
            "page_token",
            "is not a token of this listing: pass the `next_page_token` of the previous page, with the same arguments",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let mut parts = text.splitn(4, '\n');
    let (Some("v1"), Some(token_scope), Some(micros), Some(after)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    let at = micros
        .parse()
        .ok()
        .and_then(Timestamp::from_micros)
        .ok_or_else(refused)?;
    if token_scope != scope || as_of.is_some_and(|as_of| as_of != at) {
        return Err(refused());
    }
    Ok(Cursor {
        at,
        after: Some(after.to_owned()),
    })
}

/// The token of the page after `last_key` in a listing of `scope` read at `at`.
fn token(scope: &str, at: Timestamp, last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1\n{scope}\n{}\n{last_key}", at.as_micros()))
}

/// As many of `items` as fit in [`MAX_PAGE_BYTES`] once converted into messages, from the first
/// (always at least one, when there is one).
pub fn bounded<T, M: Message>(items: &[T], convert: impl Fn(&T) -> M) -> Vec<M> {
    let mut page = Vec::new();
    let mut bytes = 0;
    for item in items {
        let message = convert(item);
        // The field's tag and length prefix: at most 1 + 5 bytes.
        let size = message.encoded_len() + 6;
        if !page.is_empty() && bytes + size > MAX_PAGE_BYTES {
            break;
        }
        bytes += size;
        page.push(message);
    }
    page
}

/// A page of `items` converted into messages, [`bounded`] in bytes, and the next page's token:
/// empty when the page holds every item and `more` says nothing follows them.
pub fn fill<T, M: Message>(
    items: &[T],
    more: bool,
    scope: &str,
    at: Timestamp,
    key: impl Fn(&T) -> &str,
    convert: impl Fn(&T) -> M,
) -> (Vec<M>, String) {
    let page = bounded(items, convert);
    let next = match page.len().checked_sub(1).map(|last| &items[last]) {
        Some(last) if more || page.len() < items.len() => token(scope, at, key(last)),
        _ => String::new(),
    };
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-03-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_token_round_trips_and_is_refused_elsewhere() {
        let token = token("employees", at(), "e-42\nodd");
        let first = cursor(&token, "employees", None, || unreachable!()).unwrap();
        assert_eq!(
            first,
            Cursor {
                at: at(),
                after: Some("e-42\nodd".to_owned())
            }
        );
        assert!(cursor(&token, "employees", Some(at()), Timestamp::now).is_ok());
        for refused in [
            cursor(&token, "accounts tailscale false", None, Timestamp::now),
            cursor(
                &token,
                "employees",
                Some(Timestamp::UNIX_EPOCH),
                Timestamp::now,
            ),
            cursor("not base64!", "employees", None, Timestamp::now),
            cursor(
                &URL_SAFE_NO_PAD.encode("v2\nx"),
                "employees",
                None,
                Timestamp::now,
            ),
        ] {
            let status = refused.unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with("`page_token`"), "{status:?}");
        }
    }

    #[test]
    fn sizes_default_and_are_bounded() {
        assert_eq!(page_size(0).unwrap(), 1_000);
        assert_eq!(page_size(5_000).unwrap(), 5_000);
        assert_eq!(
            page_size(5_001).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn a_page_stops_before_the_byte_budget_and_says_where_to_go_on() {
        let big = "x".repeat(1 << 20);
        let items: Vec<String> = (0..5).map(|index| format!("{index}{big}")).collect();
        let (page, next) = fill(&items, false, "s", at(), |item| &item[..1], Clone::clone);
        assert_eq!(page.len(), 2, "two 1 MiB items fit in 3 MiB, three do not");
        let next_page = cursor(&next, "s", None, Timestamp::now).unwrap();
        assert_eq!(next_page.after.as_deref(), Some("1"));
        let (page, next) = fill(
            &items[..1],
            false,
            "s",
            at(),
            |item| &item[..1],
            Clone::clone,
        );
        assert_eq!((page.len(), next.as_str()), (1, ""));
        let (_, next) = fill(
            &items[..1],
            true,
            "s",
            at(),
            |item| &item[..1],
            Clone::clone,
        );
        assert!(!next.is_empty(), "more items follow");
    }
}
