//! What each kind of destination receives (docs/operating.md#alerts): the webhook's JSON, Slack's
//! text and an email's subject and body. Names from Tailscale and HR are untrusted: Slack's text
//! escapes `&`, `<` and `>` as Slack asks, so no name makes a link or a mention; an email's
//! subject holds no name at all (only check ids and states, which are ours), and its body shows
//! names with control characters escaped. Pure.

use serde_json::{Value, json};

use super::derive::Notification;
use super::route::Outgoing;
use crate::render::Show;

/// The webhook's JSON body: the message id (the notification's, or the digest's), the route,
/// whether it is a test, and the notifications.
pub fn webhook_body(message: &Outgoing, test: bool) -> Vec<u8> {
    let notifications: Vec<Value> = message
        .notifications
        .iter()
        .map(notification_json)
        .collect();
    let body = json!({
        "id": message.id,
        "route": message.route,
        "test": test,
        "digest_at": message.digest_at,
        "notifications": notifications,
    });
    serde_json::to_vec(&body).expect("JSON values serialise")
}

fn notification_json(notification: &Notification) -> Value {
    json!({
        "id": notification.id,
        "system": notification.system.0,
        "check_id": notification.check_id,
        "reason": notification.reason.as_str(),
        "state": notification.change.as_str(),
        "previous_state": notification.previous.map(|state| state.as_str()),
        "subject": notification.subject,
        "message": notification.message,
        "at": notification.at,
        "seq": notification.seq,
        "deadline": notification.deadline,
    })
}

/// Text escaped for Slack's `text` (api.slack.com/reference/surfaces/formatting#escaping):
/// `&`, `<` and `>` as entities, so untrusted text makes no link, mention or channel ping;
/// control characters as [`Show`] writes them, so it cannot break the message's lines.
pub fn slack_escape(text: &str) -> String {
    text.shown()
        .to_string()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line per notification.
fn line(notification: &Notification, escape: &dyn Fn(&str) -> String) -> String {
    let previous = notification
        .previous
        .map_or(String::new(), |state| format!(" (was {})", state.as_str()));
    format!(
        "{} {}{previous}: {} [{}] {} (at {})",
        notification.change.as_str(),
        notification.check_id,
        escape(&notification.subject_text()),
        notification.reason.as_str(),
        escape(&notification.message),
        notification.at
    )
}

/// The heading of a message: what it is, never a name.
fn heading(message: &Outgoing, test: bool) -> String {
    if test {
        return format!(
            "tailledger: a test message for route {}",
            message.route.shown()
        );
    }
    match (message.digest_at, message.notifications.as_slice()) {
        (Some(at), notifications) => format!(
            "tailledger digest ({}): {} changes up to {at}",
            message.route.shown(),
            notifications.len()
        ),
        (None, [one]) => format!("tailledger: {} is {}", one.check_id, one.change.as_str()),
        (None, notifications) => format!("tailledger: {} changes", notifications.len()),
    }
}

/// Slack's JSON body: a heading, one line per notification and a link to the console.
pub fn slack_body(message: &Outgoing, console_url: Option<&str>, test: bool) -> Vec<u8> {
    let mut text = slack_escape(&heading(message, test));
    for notification in &message.notifications {
        text.push_str("\n• ");
        text.push_str(&line(notification, &slack_escape));
    }
    if let Some(url) = console_url {
        text.push_str(&format!("\n<{}|Open the console>", slack_escape(url)));
    }
    text.push_str(&format!("\nid {}", message.id));
    serde_json::to_vec(&json!({ "text": text })).expect("JSON values serialise")
}

/// An email's subject (ids and states only: no name from outside) and plain-text body.
pub fn email(message: &Outgoing, console_url: Option<&str>, test: bool) -> (String, String) {
    let subject = heading(message, test);
    let show = |text: &str| text.shown().to_string();
    let mut body = format!("{subject}\n\n");
    for notification in &message.notifications {
        body.push_str("- ");
        body.push_str(&line(notification, &show));
        body.push('\n');
    }
    if let Some(url) = console_url {
        body.push_str(&format!("\nConsole: {}\n", show(url)));
    }
    body.push_str(&format!(
        "\nMessage id {} (receivers deduplicate by it).\n",
        message.id
    ));
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_escapes_what_makes_links_and_mentions() {
        assert_eq!(
            slack_escape("<!channel> & <https://evil|click>\nnext"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;\\nnext"
        );
    }
}
