//! Charts drawn as SVG on the server (no chart library in the browser): a
//! value over time with its axes and unit, gaps left open, and a hover value
//! (`<title>`) per column. Colours come from CSS classes, so both themes
//! apply; nothing is styled inline.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};

use super::format;

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
/// The plot area inside it (room for the axes' labels).
const LEFT: f64 = 56.0;
const RIGHT: f64 = 628.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 186.0;

/// One chart: equal columns from `start` to `end`, each a value or a gap.
pub struct Chart<'a> {
    /// The chart's heading (also its accessible name).
    pub title: &'a str,
    /// The unit written after values (`%`, `GiB`).
    pub unit: &'a str,
    pub start: Timestamp,
    pub end: Timestamp,
    /// One value per column, oldest first; None where nothing was measured.
    pub columns: &'a [Option<f64>],
    /// The top of the value axis.
    pub y_max: f64,
    /// What to say when every column is a gap.
    pub empty: &'a str,
}

/// Rounds `value` up to 1, 2 or 5 times a power of ten (at least `floor`),
/// a readable top for a value axis.
pub fn nice_ceiling(value: f64, floor: f64) -> f64 {
    let value = if value.is_finite() {
        value.max(floor)
    } else {
        floor
    };
    if value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|top| *top >= value)
        .unwrap_or(10.0 * power)
}

fn number(value: f64) -> String {
    if value >= 100.0 || value == value.trunc() {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

pub fn chart(chart: &Chart, zone: &TimeZone) -> Markup {
    let columns = chart.columns.len().max(1);
    let column_width = (RIGHT - LEFT) / columns as f64;
    let y_max = if chart.y_max > 0.0 { chart.y_max } else { 1.0 };
    let y_of = |v: f64| BOTTOM - (v.clamp(0.0, y_max) / y_max) * (BOTTOM - TOP);
    let x_of = |i: usize| LEFT + column_width * (i as f64 + 0.5);
    let span = chart.end.duration_since(chart.start);
    let at = |i: usize| {
        let nanos = span.as_nanos() * i as i128 / columns as i128;
        chart
            .start
            .checked_add(SignedDuration::from_nanos(
                i64::try_from(nanos).unwrap_or(i64::MAX),
            ))
            .unwrap_or(chart.end)
    };
    // The line, broken at every gap.
    let mut path = String::new();
    let mut pen_down = false;
    for (i, value) in chart.columns.iter().enumerate() {
        match value {
            Some(v) => {
                let op = if pen_down { 'L' } else { 'M' };
                path.push_str(&format!("{op}{:.1} {:.1} ", x_of(i), y_of(*v)));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let single_points: Vec<usize> = (0..chart.columns.len())
        .filter(|&i| {
            chart.columns[i].is_some()
                && (i == 0 || chart.columns[i - 1].is_none())
                && chart.columns.get(i + 1).is_none_or(Option::is_none)
        })
        .collect();
    let x_ticks = 4;
    let has_data = chart.columns.iter().any(Option::is_some);
    html! {
        figure class="chart" {
            figcaption { (chart.title) " (" (chart.unit) ")" }
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(chart.title) {
                title { (chart.title) }
                @for step in 0..=2 {
                    @let v = y_max * f64::from(step) / 2.0;
                    line class="chart-grid" x1=(LEFT) x2=(RIGHT) y1=(y_of(v)) y2=(y_of(v)) {}
                    text class="chart-label" x=(LEFT - 6.0) y=(y_of(v) + 4.0) text-anchor="end" {
                        (number(v)) " " (chart.unit)
                    }
                }
                line class="chart-axis" x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(BOTTOM) {}
                line class="chart-axis" x1=(LEFT) x2=(RIGHT) y1=(BOTTOM) y2=(BOTTOM) {}
                @for tick in 0..=x_ticks {
                    @let x = LEFT + (RIGHT - LEFT) * f64::from(tick) / f64::from(x_ticks);
                    @let t = chart.start.checked_add(SignedDuration::from_nanos(
                        i64::try_from(span.as_nanos() * i128::from(tick) / i128::from(x_ticks)).unwrap_or(0),
                    )).unwrap_or(chart.end);
                    line class="chart-axis" x1=(x) x2=(x) y1=(BOTTOM) y2=(BOTTOM + 4.0) {}
                    text class="chart-label" x=(x) y=(BOTTOM + 18.0)
                        text-anchor=(match tick { 0 => "start", t if t == x_ticks => "end", _ => "middle" }) {
                        (t.to_zoned(zone.clone()).strftime("%H:%M %Z"))
                    }
                }
                @if has_data {
                    path class="chart-line" d=(path.trim_end()) {}
                    @for i in &single_points {
                        @if let Some(v) = chart.columns[*i] {
                            circle class="chart-dot" cx=(format!("{:.1}", x_of(*i))) cy=(format!("{:.1}", y_of(v))) r="2.5" {}
                        }
                    }
                    @for (i, value) in chart.columns.iter().enumerate() {
                        @if let Some(v) = value {
                            rect class="chart-hit" x=(format!("{:.1}", LEFT + column_width * i as f64)) y=(TOP)
                                width=(format!("{column_width:.2}")) height=(BOTTOM - TOP) {
                                title { (format::date_time(at(i), zone)) ": " (number(*v)) " " (chart.unit) }
                            }
                        }
                    }
                } @else {
                    text class="chart-empty" x=((LEFT + RIGHT) / 2.0) y=((TOP + BOTTOM) / 2.0) text-anchor="middle" {
                        (chart.empty)
                    }
                }
            }
            p class="hint" { (format::date_time(chart.start, zone)) " – " (format::date_time(chart.end, zone)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(columns: &[Option<f64>]) -> String {
        let start = Timestamp::from_second(1_700_000_000).expect("time");
        chart(
            &Chart {
                title: "GPU <utilization>",
                unit: "%",
                start,
                end: start + SignedDuration::from_hours(1),
                columns,
                y_max: 100.0,
                empty: "No data",
            },
            &TimeZone::UTC,
        )
        .into_string()
    }

    #[test]
    fn a_line_with_a_gap_axes_and_hover_values() {
        let html = render(&[Some(10.0), Some(50.0), None, Some(100.0), Some(0.0)]);
        assert!(html.contains("<svg"), "{html}");
        assert!(html.contains("GPU &lt;utilization&gt;"), "escaped: {html}");
        // Two segments: the gap breaks the line.
        let d = html
            .split("d=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a path");
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 2, "{d}");
        // A hover value per measured column, with its time and zone.
        assert_eq!(html.matches("class=\"chart-hit\"").count(), 4);
        assert!(html.contains("50 %</title>"), "{html}");
        assert!(html.contains("(UTC"), "{html}");
        assert!(html.contains("100 %</text>") && html.contains("0 %</text>"));
        assert!(!html.contains("style="), "no inline style");
    }

    #[test]
    fn an_empty_chart_says_so_and_draws_no_line() {
        let html = render(&[None, None]);
        assert!(html.contains("No data"));
        assert!(!html.contains("chart-line"));
        let html = render(&[]);
        assert!(html.contains("No data"));
    }

    #[test]
    fn a_lone_point_between_gaps_is_drawn_as_a_dot() {
        let html = render(&[None, Some(42.0), None]);
        assert!(html.contains("chart-dot"), "{html}");
    }

    #[test]
    fn value_axes_end_at_a_readable_number() {
        assert_eq!(nice_ceiling(0.0, 1.0), 1.0);
        assert_eq!(nice_ceiling(3.2, 1.0), 5.0);
        assert_eq!(nice_ceiling(17.0, 1.0), 20.0);
        assert_eq!(nice_ceiling(80.0, 1.0), 100.0);
        assert_eq!(nice_ceiling(f64::NAN, 1.0), 1.0);
    }
}
