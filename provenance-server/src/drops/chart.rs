//! The cumulative-sales chart: first sales against days since the drop, as a small inline
//! SVG (a step line over a grid, axis labels, no script, no external resource).

use std::fmt::Write as _;

/// Chart width in SVG units.
const W: f64 = 600.0;
/// Chart height in SVG units.
const H: f64 = 220.0;
/// Plot margins: left, right, top, bottom.
const M: (f64, f64, f64, f64) = (40.0, 12.0, 12.0, 30.0);

/// The x-axis length in days: at least 30, else the last sale's day rounded up to a week.
pub fn axis_days(points: &[[u64; 2]]) -> u64 {
    let last = points.last().map_or(0, |p| p[0]);
    if last <= 30 {
        30
    } else {
        last.div_ceil(7) * 7
    }
}

/// The chart of `points` (`[day, cumulative sales]`, days ascending, as
/// [`crate::api::RunStats::sales_by_day`]) for a run of `size` pieces: the y axis runs to
/// `size`, the x axis to [`axis_days`]. The line stops at `today` (days since the drop; at
/// the last sale if that is later, at the axis end if today is past it), so a young run does
/// not show days that have not happened as days without sales. `label` is the accessible name
/// (escaped here).
pub fn sales_chart(points: &[[u64; 2]], size: u64, today: u64, label: &str) -> String {
    let days = axis_days(points) as f64;
    let top = size.max(points.last().map_or(0, |p| p[1])).max(1) as f64;
    let (l, r, t, b) = M;
    let pw = W - l - r;
    let ph = H - t - b;
    let x = |d: f64| l + pw * d / days;
    let y = |n: f64| t + ph * (1.0 - n / top);
    let mut svg = String::with_capacity(2048);
    let _ = write!(
        svg,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" \
role=\"img\" aria-label=\"{}\" data-points=\"{}\">",
        super::html::escape(label),
        points.len()
    );
    let _ = write!(
        svg,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fff\" stroke=\"#bbb\"/>"
    );
    // Grid and labels: 0, half and full on y; every 7 days (or 30 when long) on x.
    for n in [0.0, top / 2.0, top] {
        let _ = write!(
            svg,
            "<line x1=\"{l}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            l + pw,
            l - 4.0,
            y(n) + 4.0,
            n.round(),
            y = y(n),
        );
    }
    let step = if days > 120.0 { 30.0 } else { 7.0 };
    let mut d = 0.0;
    while d <= days {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">{d}</text>",
            x(d),
            H - b + 14.0
        );
        d += step;
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">days since the drop</text>",
        l + pw / 2.0,
        H - 2.0
    );
    // The 7- and 30-day marks.
    for mark in [7.0, 30.0] {
        if mark <= days {
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{t}\" y2=\"{}\" stroke=\"#c9a227\" stroke-dasharray=\"3 3\"/>",
                t + ph,
                x = x(mark)
            );
        }
    }
    // The step line: flat until each sale day, then up.
    let mut path = format!("M{:.1} {:.1}", x(0.0), y(0.0));
    let mut last = 0.0;
    for p in points {
        let (dx, n) = (x(p[0] as f64), y(p[1] as f64));
        let _ = write!(path, " H{dx:.1} V{n:.1}");
        last = p[1] as f64;
    }
    let last_day = points.last().map_or(0, |p| p[0]);
    let end = (today.max(last_day) as f64).min(days);
    let _ = write!(path, " H{:.1}", x(end));
    // The last total, labelled where the line stops.
    let (label_x, anchor) = if end > days * 0.8 {
        (x(end) - 2.0, "end")
    } else {
        (x(end) + 4.0, "start")
    };
    let _ = write!(
        svg,
        "<path class=\"sales\" d=\"{path}\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\"/>\
<text x=\"{label_x:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\" fill=\"#1f6feb\">{last}</text></svg>",
        y(last) - 4.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_is_thirty_days_or_the_last_sale_rounded_to_a_week() {
        assert_eq!(axis_days(&[]), 30);
        assert_eq!(axis_days(&[[3, 1], [30, 2]]), 30);
        assert_eq!(axis_days(&[[31, 1]]), 35);
        assert_eq!(axis_days(&[[70, 1]]), 70);
    }

    #[test]
    fn the_step_line_climbs_at_each_sale_day() {
        let svg = sales_chart(&[[0, 1], [3, 3], [10, 4]], 8, 40, "Pin <sales>");
        assert!(svg.starts_with("<svg class=\"chart\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("aria-label=\"Pin &lt;sales&gt;\""));
        assert!(svg.contains("data-points=\"3\""));
        // x: 40 + 548 * d / 30; y: 12 + 178 * (1 - n / 8).
        let path = svg
            .split("d=\"M")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(
            path,
            "40.0 190.0 H40.0 V167.8 H94.8 V123.2 H222.7 V101.0 H588.0"
        );
        assert!(
            svg.contains(">4</text></svg>"),
            "the last total is labelled"
        );
    }

    #[test]
    fn an_empty_run_draws_a_flat_line_and_never_divides_by_zero() {
        let svg = sales_chart(&[], 0, 30, "empty");
        assert!(svg.contains("d=\"M40.0 190.0 H588.0\""));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    /// The `d` of the sales line.
    fn line(svg: &str) -> &str {
        svg.split("class=\"sales\" d=\"M")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("")
    }

    #[test]
    fn the_line_stops_at_today() {
        // Day 0 of a run with one sale: the line ends where it starts, not at day 30.
        let svg = sales_chart(&[[0, 1]], 8, 0, "first day");
        assert_eq!(line(&svg), "40.0 190.0 H40.0 V167.8 H40.0");
        // Day 12: at x = 40 + 548 * 12 / 30.
        let svg = sales_chart(&[[0, 1], [3, 2]], 8, 12, "day 12");
        assert_eq!(line(&svg), "40.0 190.0 H40.0 V167.8 H94.8 V145.5 H259.2");
        // Never before the last sale, never past the axis.
        assert!(line(&sales_chart(&[[5, 1]], 8, 2, "")).ends_with(" H131.3"));
        assert!(line(&sales_chart(&[[5, 1]], 8, 400, "")).ends_with(" H588.0"));
        assert!(!line(&sales_chart(&[[0, 1]], 8, 0, "")).contains("H588.0"));
    }
}
