//! `tailledger timeline`: a running server's check timeline over a window, as a table or JSON.

use std::process::ExitCode;

use super::dates::{Edge, Zone, tell_date};
use super::online::connect;
use super::{Failure, Outcome, ServerArgs, runtime};
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::render::{shown_lines, timeline_table};
use crate::timeline::Timeline;

pub fn timeline(server: &ServerArgs, from: AsOf, to: AsOf, json: bool) -> Outcome {
    let timeline = runtime()?.block_on(async {
        let mut client = connect(server).await?;
        let zone = Zone::of_server(&mut client, &[Some(from), Some(to)]).await?;
        tell_date("--from", Some(from), Edge::Start, zone);
        tell_date("--to", Some(to), Edge::End, zone);
        Ok::<_, Failure>(client.timeline(&SystemId::tailscale(), from, to).await?)
    })?;
    print_timeline(&timeline, json)?;
    Ok(ExitCode::SUCCESS)
}

/// The timeline as `timeline` prints it: a table, or one JSON object.
pub(super) fn print_timeline(timeline: &Timeline, json: bool) -> Result<(), Failure> {
    if json {
        let text = serde_json::to_string(timeline).map_err(|error| {
            Failure::input(format!("cannot write the timeline as JSON: {error}"))
        })?;
        println!("{text}");
    } else {
        print!("{}", shown_lines(&timeline_table(timeline)));
    }
    Ok(())
}
