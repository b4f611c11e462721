//! What a bulk run shows while it runs: on a terminal, one progress line (indicatif) that fits the terminal's
//! width; elsewhere, plain lines only (each result, and a note when the run waits for quota).
//!
//! The line itself is [`render`], a pure function of the run's state and the width, so that it can be tested at
//! any width.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::Duration;

use etoro_client::Pause;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output;

/// The state of a run, as the progress line shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Lines this run sends in all.
    pub total: u64,
    /// Lines with a result: updated, refused, failed, or found invalid when sent.
    pub done: u64,
    /// Lines refused by eToro (4xx).
    pub refused: u64,
    /// Lines that failed after retries.
    pub failed: u64,
    /// Lines started and not finished.
    pub in_flight: u64,
    /// Since the run started.
    pub elapsed: Duration,
    /// How long every request waits for quota, and why (`429, Retry-After`, `RateLimit-Remaining: 0`).
    pub waiting: Option<(Duration, String)>,
    /// A signal asked the run to stop: no line is started any more.
    pub stopping: bool,
}

impl Snapshot {
    /// Lines done per minute, in whole numbers, once there is something to measure.
    pub fn per_minute(&self) -> Option<u64> {
        let minutes = self.elapsed.as_secs_f64() / 60.0;
        (self.done > 0 && self.elapsed >= Duration::from_secs(1)).then(|| (self.done as f64 / minutes).round() as u64)
    }

    /// The time left at the pace so far (a pause for quota included).
    pub fn eta(&self) -> Option<Duration> {
        if self.done == 0 || self.stopping {
            return None;
        }
        let left = self.total.saturating_sub(self.done) as f64;
        let at_pace = Duration::try_from_secs_f64(self.elapsed.as_secs_f64() * left / self.done as f64).ok()?;
        Some(at_pace.max(self.waiting.as_ref().map_or(Duration::ZERO, |(wait, _)| *wait)))
    }
}

/// The gap between two parts of the line.
const GAP: &str = "  ";

/// The narrowest bar worth drawing, brackets included, and the widest.
const BAR_MIN: usize = 12;
const BAR_MAX: usize = 60;

/// The progress line for `snapshot`, at most `width` columns wide (every character is ASCII, one column each).
///
/// Parts are kept by importance when the width is short: the count, then the wait for quota or the stop, then
/// the refused and failed counts, the rate, the ETA, and last the bar, which takes the width that is left.
pub fn render(snapshot: &Snapshot, width: usize) -> String {
    // (position on the line, long form, short form), most important first.
    let mut parts: Vec<(usize, String, Option<String>)> =
        vec![(1, format!("{}/{}", snapshot.done, snapshot.total), None)];
    if snapshot.stopping {
        parts.push((
            5,
            format!("stopping: {} in flight (Ctrl-C again quits now)", snapshot.in_flight),
            Some(format!("stopping ({})", snapshot.in_flight)),
        ));
    } else if let Some((wait, cause)) = &snapshot.waiting {
        let seconds = wait.as_secs_f64().ceil() as u64;
        parts.push((
            5,
            format!("waiting {seconds} s for quota ({cause})"),
            Some(format!("wait {seconds}s")),
        ));
    }
    parts.push((
        4,
        format!("refused {}, failed {}", snapshot.refused, snapshot.failed),
        Some(format!("r{} f{}", snapshot.refused, snapshot.failed)),
    ));
    if let Some(rate) = snapshot.per_minute() {
        parts.push((2, format!("{rate}/min"), None));
    }
    if let Some(eta) = snapshot.eta() {
        parts.push((3, format!("eta {}", short_duration(eta)), None));
    }

    let mut chosen: Vec<(usize, String)> = Vec::new();
    let mut used = 0;
    for (position, long, short) in parts {
        let gap = if chosen.is_empty() { 0 } else { GAP.len() };
        let fits = |text: &String| used + gap + text.len() <= width;
        let Some(text) = std::iter::once(long).chain(short).find(fits) else {
            continue;
        };
        used += gap + text.len();
        chosen.push((position, text));
    }
    let gap = if chosen.is_empty() { 0 } else { GAP.len() };
    let room = width.saturating_sub(used + gap).min(BAR_MAX);
    if room >= BAR_MIN {
        chosen.push((0, bar(snapshot.done, snapshot.total, room - 2)));
    }
    chosen.sort_by_key(|(position, _)| *position);
    let mut line = chosen.into_iter().map(|(_, text)| text).collect::<Vec<_>>().join(GAP);
    // The count alone may be wider than a very narrow terminal.
    line.truncate(width);
    line
}

/// `[####------]`, `inner` cells between the brackets.
fn bar(done: u64, total: u64, inner: usize) -> String {
    let filled = if total == 0 {
        inner
    } else {
        ((done.min(total) as f64 / total as f64) * inner as f64).floor() as usize
    };
    format!("[{}{}]", "#".repeat(filled), "-".repeat(inner - filled))
}

/// `45s`, `3m20s`, `1h05m`, `2d03h`.
pub fn short_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3600..86_400 => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{:02}h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}

/// The run's display: a progress line on a terminal, plain lines otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// The end of the latest pause announced in plain mode, so that each pause is told once.
    told_pause: Cell<Option<tokio::time::Instant>>,
    told_stop: Cell<bool>,
}

impl Progress {
    /// A progress line when standard error is a terminal; plain lines otherwise.
    pub fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{msg}") {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            told_pause: Cell::new(None),
            told_stop: Cell::new(false),
        }
    }

    /// Shows the state: redraws the line at the terminal's current width (so that a resize redraws cleanly), or,
    /// in plain mode, tells of a new pause or of the stop once.
    pub fn show(&self, snapshot: &Snapshot, pause: Option<Pause>) {
        if let Some(bar) = &self.bar {
            // One column less than the terminal: writing the last column makes some terminals wrap.
            let width = usize::from(console::Term::stderr().size().1).saturating_sub(1);
            bar.set_message(render(snapshot, width));
            return;
        }
        if snapshot.stopping && !self.told_stop.replace(true) {
            output::note(&format!(
                "stopping: no new line is started; waiting for the {} in flight (a second signal quits now)",
                snapshot.in_flight
            ));
        }
        if let (Some(pause), Some((wait, cause))) = (pause, &snapshot.waiting) {
            if self.told_pause.replace(Some(pause.until)) != Some(pause.until) {
                output::note(&format!(
                    "waiting {} s for quota ({cause})",
                    wait.as_secs_f64().ceil() as u64
                ));
            }
        }
    }

    /// Prints lines of text on standard error, above the progress line when there is one; without one, with a
    /// single `write`.
    pub fn say_all(&self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        match &self.bar {
            Some(bar) => {
                for line in lines {
                    bar.println(output::escape(line));
                }
            }
            None => output::notes(lines),
        }
    }

    /// Removes the progress line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Snapshot {
        Snapshot {
            total: 5000,
            done: 1234,
            refused: 3,
            failed: 1,
            in_flight: 8,
            elapsed: Duration::from_secs(1234),
            waiting: Some((Duration::from_millis(57_200), "429, Retry-After".to_owned())),
            stopping: false,
        }
    }

    #[test]
    fn never_wider_than_the_terminal() {
        let quiet = Snapshot {
            waiting: None,
            ..busy()
        };
        let stopping = Snapshot {
            stopping: true,
            ..busy()
        };
        let empty = Snapshot::default();
        for snapshot in [&busy(), &quiet, &stopping, &empty] {
            for width in [0, 1, 5, 20, 40, 60, 80, 120, 300] {
                let line = render(snapshot, width);
                assert!(line.len() <= width, "{width}: {line:?} is {} wide", line.len());
                assert!(line.is_ascii(), "{line:?}");
            }
        }
    }

    #[test]
    fn the_important_parts_come_first() {
        let snapshot = busy();
        let lines: Vec<String> = [20, 40, 60, 80, 120]
            .iter()
            .map(|&width| render(&snapshot, width))
            .collect();
        assert_eq!(lines[0], "1234/5000  wait 58s");
        assert_eq!(lines[1], "1234/5000  refused 3, failed 1  wait 58s");
        assert_eq!(lines[2], "1234/5000  r3 f1  waiting 58 s for quota (429, Retry-After)");
        assert_eq!(
            lines[3],
            "1234/5000  refused 3, failed 1  waiting 58 s for quota (429, Retry-After)"
        );
        assert_eq!(
            lines[4],
            "[#####-------------------]  1234/5000  60/min  eta 1h02m  refused 3, failed 1  \
             waiting 58 s for quota (429, Retry-After)"
        );
        let quiet = Snapshot {
            waiting: None,
            ..busy()
        };
        assert_eq!(render(&quiet, 20), "1234/5000  r3 f1");
        assert_eq!(render(&quiet, 60), "1234/5000  60/min  eta 1h02m  refused 3, failed 1");
        let stopping = Snapshot {
            stopping: true,
            ..busy()
        };
        assert_eq!(
            render(&stopping, 80),
            "1234/5000  refused 3, failed 1  stopping: 8 in flight (Ctrl-C again quits now)"
        );
    }

    #[test]
    fn the_bar_takes_the_width_that_is_left() {
        let snapshot = Snapshot {
            waiting: None,
            ..busy()
        };
        for width in [80, 100, 120] {
            let line = render(&snapshot, width);
            let bar_end = line.find(']').unwrap();
            assert!(line.len() == width || bar_end + 1 == BAR_MAX, "{width}: {line:?}");
        }
        assert_eq!(bar(1, 4, 8), "[##------]");
        assert_eq!(bar(9, 4, 4), "[####]", "never more than full");
        assert_eq!(bar(0, 0, 4), "[####]", "nothing to do is done");
    }

    #[test]
    fn rate_and_eta_are_whole_and_working() {
        let snapshot = Snapshot {
            total: 300,
            done: 100,
            elapsed: Duration::from_secs(100),
            ..Snapshot::default()
        };
        assert_eq!(snapshot.per_minute(), Some(60));
        assert_eq!(snapshot.eta(), Some(Duration::from_secs(200)));
        let paused = Snapshot {
            waiting: Some((Duration::from_secs(600), "429".into())),
            ..snapshot.clone()
        };
        assert_eq!(
            paused.eta(),
            Some(Duration::from_secs(600)),
            "a long pause is the least left"
        );
        assert_eq!(Snapshot::default().per_minute(), None);
        assert_eq!(Snapshot::default().eta(), None);
        assert_eq!(short_duration(Duration::from_secs(45)), "45s");
        assert_eq!(short_duration(Duration::from_secs(200)), "3m20s");
        assert_eq!(short_duration(Duration::from_secs(3900)), "1h05m");
        assert_eq!(short_duration(Duration::from_secs(97_200)), "1d03h");
    }
}
